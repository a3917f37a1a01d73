"""The network's operations beyond page reads: the dose calculation and an allocation for
one patient, the CSV export of every bag, `verify_audit` and its reconciliation."""

from __future__ import annotations

import csv
import datetime
import statistics
import time
import tracemalloc
from decimal import Decimal

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks.reads import HOSPITAL, _p95, count_queries, timed


class _Rollback(Exception):
    pass


def new_patient():
    """A newly registered, eligible patient at HOSPITAL (through the service): the one whose
    first dose the calculator plans from the hospital's whole stock."""
    from django.contrib.auth.models import User

    from audit.context import Origin, audit_context
    from patients import services
    from patients.demo import _assessment
    from patients.models import Patient
    from sites.models import Hospital

    pharmacy = User.objects.get(username="pharmacy")
    today = datetime.date.today()
    hospital = Hospital.objects.get(code=HOSPITAL)
    existing = Patient._base_manager.filter(code=f"{hospital.patient_code_prefix}-BENCH1")
    if existing.exists():  # a network reused by `--reuse`: registered by an earlier run
        return existing.get()
    with audit_context(actor=pharmacy, reason="benchmark patient", origin=Origin.COMMAND):
        return services.register_patient(
            code=f"{hospital.patient_code_prefix}-BENCH1",
            hospital=hospital,
            sex="F",
            age_years=58,
            consent_by_relatives=True,
            consent_date=today,
            compassionate_use_authorisation="AEMPS-UC-BENCH",
            weight_kg=Decimal("70.0"),
            weighed_on=today,
            assessment=_assessment(0),
            assessed_on=today,
            actor=pharmacy,
        )


def dosing_metrics(patient, *, repeat: int) -> tuple[list, dict]:
    """The calculator's proposal (`plan_dose`), an allocation (`allocate_dose` of a dose
    just ordered: the order is not timed), and the order with its allocation — each
    rolled back, so every run sees the same stock."""
    from django.contrib.auth.models import User

    from dosing import services
    from dosing.services.common import active_protocol
    from dosing.services.stock import plan_dose

    pharmacy = User.objects.get(username="pharmacy")
    protocol = active_protocol()

    def plan():
        return plan_dose(patient, weight_kg=Decimal("70.0"), protocol=protocol)

    def order_and_allocate():
        try:
            with transaction.atomic():
                dose = services.order_dose(patient, actor=pharmacy)
                services.allocate_dose(dose, actor=pharmacy)
                raise _Rollback
        except _Rollback:
            pass

    def allocation_alone(*, count: bool = False):
        """`allocate_dose`'s milliseconds, or with `count` its queries."""
        try:
            with transaction.atomic():
                dose = services.order_dose(patient, actor=pharmacy)
                if count:
                    with CaptureQueriesContext(connection) as queries:
                        services.allocate_dose(dose, actor=pharmacy)
                    raise _Rollback(len(queries.captured_queries))
                started = time.perf_counter()
                services.allocate_dose(dose, actor=pharmacy)
                raise _Rollback(1000 * (time.perf_counter() - started))
        except _Rollback as done:
            return done.args[0]

    if not plan().bags:
        raise SystemExit(f"benchmark: no stock at {HOSPITAL} for the calculator's patient")
    counts = {
        "dose_calculation": count_queries(plan),
        "allocation": allocation_alone(count=True),
        "order_and_allocation": count_queries(order_and_allocate),
    }
    metrics = []
    for name, fn in (("dose_calculation", plan), ("order_and_allocation", order_and_allocate)):
        t = timed(fn, None, repeat=repeat, warmup=1)
        metrics += [
            (name, t["median"], "ms"),
            (f"{name}.p95", t["p95"], "ms"),
            (f"{name}.queries", counts[name], "count"),
        ]
    allocation_alone()  # warm-up
    took = [allocation_alone() for _ in range(repeat)]
    metrics += [
        ("allocation", statistics.median(took), "ms"),
        ("allocation.p95", _p95(took), "ms"),
        ("allocation.queries", counts["allocation"], "count"),
    ]
    return metrics, counts


class _Sink:
    def write(self, text):
        return len(text)


def csv_metrics(api_client) -> list:
    """`GET /api/v1/bags/?format=csv` of every bag (rows/s; the peak of Python memory in
    a second pass under tracemalloc) against its floor: one SQL query into csv.writer."""
    from batches.models import Bag

    def export() -> int:
        response = api_client.get("/api/v1/bags/?format=csv", secure=True)
        if response.status_code != 200:
            raise SystemExit(f"CSV export: HTTP {response.status_code}")
        lines = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
        return lines - 1

    def floor() -> int:
        sql, params = (
            Bag._base_manager.order_by("pk")
            .values_list("code", "batch__din", "status", "division", "nominal_cells", "volume_ml")
            .query.sql_with_params()
        )
        writer = csv.writer(_Sink())
        n = 0
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while rows := cursor.fetchmany(2000):
                writer.writerows(rows)
                n += len(rows)
        return n

    started = time.perf_counter()
    rows = export()
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    floor_rows = floor()
    floor_seconds = time.perf_counter() - started
    tracemalloc.start()
    export()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return [
        ("csv_bags", rows / seconds, "rows/s"),
        ("csv_bags.rows", rows, "count"),
        ("csv_bags.floor", floor_rows / floor_seconds, "rows/s"),
        ("csv_bags.floor_ratio", (floor_rows / floor_seconds) / (rows / seconds), "x"),
        ("csv_bags.peak_memory", peak / 2**20, "MiB"),
    ]


def audit_metrics() -> list:
    """`verify_chain()` as `verify_audit` runs it, and the reconciliation of every row."""
    from audit.verify import verify_chain
    from audit.verify.reconcile import reconcile

    result = verify_chain()
    if not result.intact:
        raise SystemExit(f"the network's chain does not verify: {result.summary()}")
    started = time.perf_counter()
    rec = reconcile()
    rec_seconds = time.perf_counter() - started
    if not rec.clean:
        raise SystemExit(
            "the network does not reconcile: " + "; ".join(f.describe() for f in rec.findings[:5])
        )
    return [
        ("verify_audit", result.count / result.seconds, "events/s"),
        ("verify_audit.events", result.count, "count"),
        ("reconciliation", rec_seconds, "s"),
        ("reconciliation.rows", rec.rows_checked, "count"),
    ]
