"""The reads of issue 15, each timed in-process against its floor, and their query counts.

Each read is a request through `django.test.Client` as the user who makes it (the
pharmacy and the clinician of HUS, production in the admin, the network's auditor with
an API token). Its *floor* is the same rows fetched by one SQL query (compiled once from a
`.values()` queryset and run on the raw cursor: no model instances, no ORM per row) and
serialised with `json.dumps`. The two are interleaved, repeat by repeat, after a warm-up.
"""

from __future__ import annotations

import datetime
import itertools
import json
import statistics
import time
from dataclasses import dataclass

from django.db import connection
from django.test.utils import CaptureQueriesContext

HOSPITAL = "HUS"
PAGE = 50
ADMIN_PAGE = 100


READ_NAMES = (
    "pharmacy_worklist",
    "ward_worklist",
    "admin_batch_changelist",
    "admin_bag_changelist",
    "donor_trace",
    "patient_trace",
    "audit_events_filtered",
    "audit_events_first_page",
    "batch_detail",
    "bags_of_batch",
    "cohort_report",
    "cohort_report_recomputed",
    "healthz",
)


@dataclass
class Read:
    name: str
    client: str
    url: str
    floor: object  # a queryset (its SQL is the floor) or a SQL string
    # Each request with its own far-future `until` (the same figures): never the kept
    # figures (`reports.report.cached_figures`), always computed afresh.
    fresh: bool = False


def _sql(source):
    if isinstance(source, str):
        return source, ()
    return source.query.sql_with_params()


def run_floor(sql_params) -> int:
    sql, params = sql_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return len(json.dumps(rows, default=str))


def clients() -> dict:
    """Logged-in clients of the demo's users (two-factor sessions verified)."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from knox.models import AuthToken

    made = {}
    for key, username in (
        ("pharmacy", "pharmacy"),
        ("clinician", "clinician"),
        ("admin", "production"),
    ):
        user = User.objects.get(username=username)
        client = Client(HTTP_X_FORWARDED_PROTO="https")
        client.force_login(user)
        device = user.totpdevice_set.first()
        if device is not None:
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        made[key] = client
    auditor = User.objects.get(username="auditor")
    _, token = AuthToken.objects.create(user=auditor)
    made["api"] = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_AUTHORIZATION=f"Token {token}")
    made["anonymous"] = Client(HTTP_X_FORWARDED_PROTO="https")
    made["_token"] = token
    return made


def reads() -> list[Read]:
    """The requests of the issue's table, on records of the network."""
    from audit.models import AuditEvent
    from batches.models import Bag, Batch, Donor
    from dosing.models import DoseBag
    from patients.models import Patient

    batch = Batch._base_manager.filter(status="released").order_by("-pk").first()
    donor = Donor._base_manager.filter(batches__status="released").order_by("-pk").first()
    patient = (
        Patient._base_manager.filter(hospital__code=HOSPITAL, doses__isnull=False)
        .order_by("-pk")
        .first()
    )
    hus = Patient._base_manager.filter(hospital__code=HOSPITAL)
    return [
        Read(
            "pharmacy_worklist",
            "pharmacy",
            "/pharmacy/",
            hus.order_by("code").values("code", "age_years", "sex", "hospital__code")[:PAGE],
        ),
        Read(
            "ward_worklist",
            "clinician",
            "/clinic/",
            DoseBag._base_manager.filter(dose__patient__hospital__code=HOSPITAL)
            .order_by("-dose__planned_for")
            .values("dose__number", "dose__status", "dose__patient__code", "bag__code")[:PAGE],
        ),
        Read(
            "admin_batch_changelist",
            "admin",
            "/admin/batches/batch/",
            Batch._base_manager.order_by("-pk").values(
                "din", "din_check", "donor__code", "facility__fin", "status", "expires_on"
            )[:ADMIN_PAGE],
        ),
        Read(
            "admin_bag_changelist",
            "admin",
            "/admin/batches/bag/",
            Bag._base_manager.order_by("-pk").values(
                "code", "batch__din", "status", "location__tank", "location__box"
            )[:ADMIN_PAGE],
        ),
        Read(
            "donor_trace",
            "api",
            f"/api/v1/trace/donors/{donor.code}/",
            Bag._base_manager.filter(batch__donor=donor).values(
                "code",
                "status",
                "batch__din",
                "batch__status",
                "dose_links__dose__number",
                "dose_links__dose__patient__code",
                "shipment_items__shipment__code",
            ),
        ),
        Read(
            "patient_trace",
            "api",
            f"/api/v1/trace/patients/{patient.code}/",
            DoseBag._base_manager.filter(dose__patient=patient).values(
                "dose__number",
                "dose__status",
                "dose__planned_for",
                "bag__code",
                "bag__batch__din",
                "bag__batch__donor__code",
            ),
        ),
        Read(
            "audit_events_filtered",
            "api",
            f"/api/v1/audit-events/?object_type=batches.batch&object_id={batch.pk}",
            AuditEvent.objects.filter(object_type="batches.batch", object_id=str(batch.pk))
            .order_by("seq")
            .values()[:PAGE],
        ),
        Read(
            "audit_events_first_page",
            "api",
            "/api/v1/audit-events/",
            AuditEvent.objects.order_by("seq").values()[:PAGE],
        ),
        Read(
            "batch_detail",
            "api",
            f"/api/v1/batches/{batch.code}/",
            Batch._base_manager.filter(pk=batch.pk).values(
                "din",
                "status",
                "donor__code",
                "facility__fin",
                "checks__item__parameter",
                "checks__result_value",
                "checks__result_text",
                "checks__passed",
            ),
        ),
        Read(
            "bags_of_batch",
            "api",
            f"/api/v1/bags/?batch={batch.code}",
            Bag._base_manager.filter(batch=batch)
            .order_by("pk")
            .values("code", "status", "division", "nominal_cells", "volume_ml", "batch__din")[
                :PAGE
            ],
        ),
        Read(
            "cohort_report",
            "api",
            "/api/v1/reports/cohort/",
            _cohort_floor(),
        ),
        Read(
            "cohort_report_recomputed",
            "api",
            "/api/v1/reports/cohort/",
            _cohort_floor(),
            fresh=True,
        ),
        Read("healthz", "anonymous", "/healthz", "SELECT 1"),
    ]


def _cohort_floor():
    """The cohort report's floor: patients and doses counted by hospital and sex."""
    from django.db.models import Count

    from patients.models import Patient

    return (
        Patient._base_manager.values("hospital__code", "sex")
        .order_by("hospital__code", "sex")
        .annotate(patients=Count("id", distinct=True), doses=Count("doses", distinct=True))
    )


def _request(client, url: str) -> int:
    response = client.get(url, secure=True)
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code} {response.content[:300]!r}")
    if response.streaming:
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries.captured_queries)


BUDGET_S = 30.0  # per read: a slow one stops after this (at least MIN_REPEAT repeats)
MIN_REPEAT = 3


def timed(ours, floor, *, repeat: int, warmup: int = 2) -> dict:
    """Median and p95 (ms) of `ours` and `floor`, interleaved, after `warmup` of each
    (one when a request takes over a second). `repeat` repeats, fewer (not under
    MIN_REPEAT) once they have taken BUDGET_S: at scale 1 the slow requests take minutes."""
    started = time.perf_counter()
    for n in range(warmup):
        ours()
        if floor:
            floor()
        if n == 0 and time.perf_counter() - started > 1:
            break
    mine, base = [], []
    started = time.perf_counter()
    for n in range(repeat):
        if n >= MIN_REPEAT and time.perf_counter() - started > BUDGET_S:
            break
        started = time.perf_counter()
        ours()
        mine.append(1000 * (time.perf_counter() - started))
        if floor:
            started = time.perf_counter()
            floor()
            base.append(1000 * (time.perf_counter() - started))
    result = {"median": statistics.median(mine), "p95": _p95(mine)}
    if base:
        result["floor"] = statistics.median(base)
    return result


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure_reads(
    made: dict, *, repeat: int, queries_only: bool = False, only=None
) -> tuple[list, dict]:
    """Metrics of every read (or of those named in `only`); and its query count by name."""
    metrics, counts = [], {}
    for read in reads():
        if only and read.name not in only:
            continue
        client = made[read.client]

        counter = itertools.count()

        def ours(read=read, client=client, fresh=counter):
            if read.fresh:
                until = datetime.date(2100, 1, 1) + datetime.timedelta(days=next(fresh))
                return _request(client, f"{read.url}?until={until}")
            return _request(client, read.url)

        sql = _sql(read.floor)

        def floor(sql=sql):
            return run_floor(sql)

        ours()  # counted warm, as tests/performance does: per-process caches filled
        counts[read.name] = count_queries(ours)
        if queries_only:
            continue
        t = timed(ours, floor, repeat=repeat)
        metrics += [
            (read.name, t["median"], "ms"),
            (f"{read.name}.p95", t["p95"], "ms"),
            (f"{read.name}.floor", t["floor"], "ms"),
            (f"{read.name}.floor_ratio", t["median"] / t["floor"], "x"),
            (f"{read.name}.queries", counts[read.name], "count"),
        ]
    return metrics, counts
