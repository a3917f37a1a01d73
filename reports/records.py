"""Reading the record for the cohort report: the patients a reader may see, and their
`Course` values in a fixed number of queries (seven, whatever the cohort's size).

Each query reads plain rows (`values_list`), not model instances: at a network's size
(tens of thousands of patients, hundreds of thousands of observations) building and
snapshotting a model per row (`AuditedModel.from_db`) is most of the time, and the
report only reads. The child rows are narrowed by a subquery of the cohort's patients,
not a list of their ids, so the SQL stays the same size at any cohort.

Times are read as text and parsed with `datetime.fromisoformat` (C): Django's loader of
`timestamptz` for psycopg is a Python subclass (`psycopg_any.BaseTzLoader`), some 20 µs a
value, which was a third of the report's time at 2,000 patients (a UTC connection now
reads them with psycopg's C loader, `core/db_loaders.py`; the text path is kept for
SQLite and any other set-up); the reader's zone is looked up once, not per value
(`localtime`).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from fractions import Fraction

from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from dosing.models import AdverseEvent, Dose
from patients.models import ChestXray, ClinicalOutcome, Observation, Patient, SupportPeriod
from reports.cohort import LAB_EXPECTED, WHO_SCALE, Course, DoseFact


def cohort_patients(user, *, hospital: str = "", protocol: str = "", since=None, until=None):
    """The patients `user` may see who were given at least one dose, filtered by hospital
    code, protocol code (of dose 1) and the date of dose 1 (`since`/`until`, inclusive)."""
    infused = Dose.objects.filter(status=Dose.Status.INFUSED, number=1)
    if protocol:
        infused = infused.filter(protocol__code=protocol)
    if since:
        infused = infused.filter(infusion__started_at__date__gte=since)
    if until:
        infused = infused.filter(infusion__started_at__date__lte=until)
    patients = Patient.objects.for_user(user).filter(pk__in=infused.values("patient_id"))
    if hospital:
        patients = patients.filter(hospital__code=hospital)
    return patients


def _grouped(queryset, *fields, times=()) -> dict[int, list[tuple]]:
    """`patient_id` → the rows (tuples of `fields`) of that patient, in the query's order;
    the fields named in `times` (date-times) are read as text and parsed."""
    texts = {f"t_{name.replace('__', '_')}": Cast(name, TextField()) for name in times}
    queryset = queryset.annotate(**texts)
    names = [f"t_{f.replace('__', '_')}" if f in times else f for f in fields]
    rows: dict[int, list[tuple]] = defaultdict(list)
    for patient_id, *values in queryset.values_list("patient_id", *names):
        rows[patient_id].append(tuple(values))
    return rows


def _instant(text: str | None, zone: datetime.tzinfo) -> datetime.datetime | None:
    """A time read as text (PostgreSQL: with its offset; SQLite: naive UTC) in `zone`."""
    if text is None:
        return None
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(zone)


def load_courses(patients) -> list[Course]:
    """The `Course` of each patient of the queryset (ordered by code), in seven queries."""
    people = list(
        patients.order_by("code").values_list(
            "pk", "code", "hospital__code", "stay__admitted_on", "stay__follow_up_ended_on"
        )
    )
    if not people:
        return []
    ids = patients.order_by().values("pk")
    doses = _grouped(
        Dose.objects.filter(
            status=Dose.Status.INFUSED, infusion__isnull=False, patient_id__in=ids
        ).order_by("infusion__started_at", "number", "pk"),
        "number", "infusion__started_at", "delivered_cells", "weight_kg", "batch__donor_id",
        "batch__din", "batch__din_check", "protocol__code", "protocol__version",
        "preparation__method", times=("infusion__started_at",),
    )  # fmt: skip
    # Unordered: the rules sort each patient's values of a kind (`Course.series`), and
    # sorting 300,000 rows in the database (spilling to disk) was a third of this query.
    observations = _grouped(
        Observation.objects.filter(
            patient_id__in=ids, kind__in=[WHO_SCALE, *LAB_EXPECTED]
        ).order_by(),
        "kind", "observed_at", "value", times=("observed_at",),
    )  # fmt: skip
    causalities = _grouped(
        AdverseEvent.objects.filter(patient_id__in=ids).order_by("onset_at", "pk"), "causality"
    )
    supports = _grouped(
        SupportPeriod.objects.filter(patient_id__in=ids).order_by("started_at", "pk"),
        "kind", "started_at", "ended_at", times=("started_at", "ended_at"),
    )  # fmt: skip
    xrays = _grouped(
        ChestXray.objects.filter(patient_id__in=ids).order_by("taken_on", "wong_score"),
        "taken_on", "wong_score",
    )  # fmt: skip
    outcomes = _grouped(
        ClinicalOutcome.objects.filter(patient_id__in=ids).order_by("occurred_on", "pk"),
        "kind", "occurred_on",
    )  # fmt: skip
    zone = timezone.get_current_timezone()
    courses = []
    for pk, code, hospital, admitted_on, follow_up_ended_on in people:
        first: dict[str, datetime.date] = {}
        for kind, occurred_on in outcomes.get(pk, ()):
            first.setdefault(kind, occurred_on)
        courses.append(
            Course(
                code=code,
                hospital=hospital,
                doses=tuple(_dose(row, zone) for row in doses.get(pk, ())),
                admitted_on=admitted_on,
                follow_up_ended_on=follow_up_ended_on,
                supports=tuple(
                    (kind, _instant(start, zone), _instant(stop, zone))
                    for kind, start, stop in supports.get(pk, ())
                ),
                xrays=tuple(xrays.get(pk, ())),
                observations=tuple(
                    (kind, _instant(at, zone), value)
                    for kind, at, value in observations.get(pk, ())
                ),
                outcomes=first,
                adverse_causalities=tuple(c for (c,) in causalities.get(pk, ())),
            )
        )
    return courses


def _dose(row: tuple, zone) -> DoseFact:
    number, started_at, cells, weight, donor_id, din, din_check, protocol, version, method = row
    return DoseFact(
        number=number,
        given_at=_instant(started_at, zone),
        cells_per_kg=_per(cells, weight),
        donor_id=donor_id,
        batch_code=f"{din}{din_check}" if din else "",  # Batch.code
        protocol=protocol,
        protocol_version=version,
        method=method or "",
    )


def _per(cells: int | None, weight) -> Fraction | None:
    """cells / weight exactly, built as one Fraction (three, and a division, cost some
    5 µs a dose)."""
    if cells is None or not weight:
        return None
    numerator, denominator = weight.as_integer_ratio()
    return Fraction(cells * denominator, numerator)
