"""Read paths of the pharmacy and ward worklists (no writes here).

What a patient has to do is computed in SQL, so that a worklist filters, orders and pages
its patients in the database and loads only the rows of the page it shows (eligibility
and the next step are then evaluated for those rows only):

- an **open dose** (the patient's latest live dose not yet infused): ordered → allocate
  by its planned time; allocated → thaw or refresh (bags to pick) by its planned time;
  prepared → dispense before its use-before time; dispensed → infuse before it;
- otherwise the **next dose to order**: dose 1 (no deadline), or dose 2/3 in the window
  48–96 h (the protocol's) after the previous dose's infusion start, whose deadline is the
  window's close;
- **finished**: no open dose, and all the protocol's doses given, or the window for the
  next dose closed, or an outcome recorded (death, extubation, ICU discharge).

The protocol's interval is a setting per version: the few versions are read once and
turned into a `CASE` over the previous dose's protocol, so the close of a window is one
expression in SQL on every database.
"""

from __future__ import annotations

import datetime
from datetime import timedelta

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import IsNull

from dosing.models import AdverseEvent, BedsideScan, Dose, DoseBag, Infusion, Protocol
from dosing.models.protocol import MAX_DOSE_NUMBER
from patients.models import ClinicalOutcome

S = Dose.Status
# The statuses of a dose that is not open (to do): cancelled, or infused.
NOT_OPEN = (S.CANCELLED, S.INFUSED)
# Outcomes after which a patient is followed up only, never dosed again.
ENDING_OUTCOMES = (
    ClinicalOutcome.Kind.DEATH,
    ClinicalOutcome.Kind.EXTUBATION,
    ClinicalOutcome.Kind.ICU_DISCHARGE,
)
# Adverse events the ward still follows up: not yet with a final outcome.
OPEN_OUTCOMES = (
    AdverseEvent.Outcome.RECOVERING,
    AdverseEvent.Outcome.NOT_RECOVERED,
    AdverseEvent.Outcome.UNKNOWN,
)


def _present(queryset, present: bool = True) -> IsNull:
    """Whether the correlated `queryset` has a row, as a scalar subquery (`LIMIT 1`): the
    database probes an index for each patient it evaluates, where an `EXISTS` (in an `OR`
    or a select list) may be planned as a hash over the whole table, built on every
    request — a pass over every dose or outcome of the network to answer for 26 rows.
    Unordered: the models' default order (by the patient's code) would join the patient
    and sort for every probe, for a question of whether any row exists."""
    return IsNull(Subquery(queryset.order_by().values("pk")[:1]), not present)


def _int(subquery) -> Coalesce:
    return Coalesce(Subquery(subquery, output_field=IntegerField()), Value(0))


def annotate_work(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    """`patients` with what there is to do, in SQL: `live_doses`, `window_closes_at` (of
    the next dose's window), `course_max`, `ended`, `deadline` (the open dose's, else the
    close of the next dose's window; null when nothing presses), and as aliases (in the
    SQL, not selected) `open_status`, `open_dose_id`, `open_deadline` and `finished`.

    Few subqueries, each written once: the SQL of every annotation a filter refers to is
    repeated there, and building it is what a worklist spends most of its time on."""
    live = Dose.objects.filter(patient=OuterRef("pk")).exclude(status=S.CANCELLED)
    open_ = open_doses().filter(patient=OuterRef("pk")).order_by("-number")
    previous = live.filter(status=S.INFUSED).order_by("-number")
    count = live.order_by().values("patient").annotate(n=Count("pk")).values("n")
    protocols = Protocol.objects.order_by("pk").values_list("pk", "max_interval_hours")
    protocols = list(protocols)
    closes = Case(
        *(
            When(protocol_id=pk, then=F("infusion__started_at") + Value(timedelta(hours=hours)))
            for pk, hours in protocols
        ),
        default=None,
        output_field=DateTimeField(),
    )
    if not protocols:
        # With no protocol the `CASE` compiles to a bare `NULL`, which PostgreSQL types as
        # text in a subquery, and comparing it with a timestamp is then an error. (Not cast
        # always: SQLite's cast to a datetime keeps milliseconds only.)
        closes = Cast(Value(None), DateTimeField())
    annotated = patients.alias(
        open_status=Subquery(open_.values("status")[:1]),
        open_dose_id=Subquery(open_.values("pk")[:1]),
        open_deadline=Subquery(
            open_.annotate(due=Coalesce("use_before", "planned_for")).values("due")[:1]
        ),
    ).annotate(
        live_doses=_int(count),
        window_closes_at=Subquery(previous.annotate(closes=closes).values("closes")[:1]),
        course_max=Coalesce(
            Subquery(previous.values("protocol__max_doses")[:1]), Value(MAX_DOSE_NUMBER)
        ),
        ended=_present(
            ClinicalOutcome.objects.filter(patient=OuterRef("pk"), kind__in=ENDING_OUTCOMES)
        ),
    )
    finished = Q(open_status__isnull=True) & (
        Q(ended=True) | Q(live_doses__gte=F("course_max")) | Q(window_closes_at__lt=now)
    )
    return annotated.alias(
        finished=Case(
            When(finished, then=Value(True)), default=Value(False), output_field=BooleanField()
        ),
    )


def with_deadline(patients: QuerySet) -> QuerySet:
    return patients.annotate(
        deadline=Case(
            When(open_status__isnull=False, then=F("open_deadline")),
            default=F("window_closes_at"),
            output_field=DateTimeField(),
        )
    )


def open_doses() -> QuerySet:
    """Doses neither cancelled nor infused: what the partial index `dose_open_by_patient`
    holds (the condition written as in the index, so the database can use it)."""
    return Dose.objects.exclude(status__in=NOT_OPEN)


def may_have_work(*, now: datetime.datetime) -> Q:
    """The patients who may have something to do, by conditions the database answers from
    small indexes before any per-patient annotation is computed: an open dose (the partial
    index of open doses), an infusion recent enough for a window still to be open (the
    longest interval of any protocol; the index on the infusion's start), or no live dose
    yet (a probe of the patient's doses). A superset of the patients not `finished`: at
    the size of a network most patients are finished, and only these few have their work
    computed."""
    longest = max(Protocol.objects.values_list("max_interval_hours", flat=True), default=0)
    recent = Infusion.objects.filter(
        started_at__gte=now - datetime.timedelta(hours=longest), dose__status=S.INFUSED
    ).values("dose__patient_id")
    live = Dose.objects.filter(patient=OuterRef("pk")).exclude(status=S.CANCELLED)
    return (
        Q(pk__in=open_doses().values("patient_id"))
        | Q(pk__in=recent)
        | Q(_present(live, present=False))
    )


def to_do(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    """The patients with something to do, the most pressing deadline first (none last)."""
    return with_deadline(
        annotate_work(patients.filter(may_have_work(now=now)), now=now).filter(finished=False)
    ).order_by(F("deadline").asc(nulls_last=True), "code")


def finished(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    """The finished patients by code: those who cannot have work (decided from the indexes
    alone, first), and those who may but have none."""
    return (
        annotate_work(patients, now=now)
        .filter(~may_have_work(now=now) | Q(finished=True))
        .order_by("code")
    )


def with_open_adverse_events(patients: QuerySet) -> QuerySet:
    return patients.annotate(
        open_events=Exists(
            AdverseEvent.objects.filter(patient=OuterRef("pk"), outcome__in=OPEN_OUTCOMES)
        )
    )


def ward_to_do(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    """The ward's patients: a dose dispensed to infuse (by its use-before time) or an
    adverse event still to follow up (its outcome not final). `bedside_begun`: the
    bedside check of the dispensed dose has begun, so an infusion is to be completed."""
    scanned = BedsideScan.objects.filter(dose_id=OuterRef("open_dose_id"), matched=True)
    # Only patients with a dispensed dose (the partial index of open doses) or an open
    # event can be on it.
    dispensed = open_doses().filter(status=S.DISPENSED).values("patient_id")
    followed = AdverseEvent.objects.filter(outcome__in=OPEN_OUTCOMES).values("patient_id")
    patients = patients.filter(Q(pk__in=dispensed) | Q(pk__in=followed))
    return (
        with_open_adverse_events(with_deadline(annotate_work(patients, now=now)))
        .annotate(
            bedside_begun=Exists(scanned),
            infuse_before=Case(
                When(open_status=S.DISPENSED, then=F("open_deadline")),
                output_field=DateTimeField(),
            ),
        )
        .filter(Q(open_status=S.DISPENSED) | Q(open_events=True))
        .order_by(F("infuse_before").asc(nulls_last=True), "code")
    )


def ward_finished(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    return (
        with_open_adverse_events(finished(patients, now=now))
        .filter(open_events=False)
        .order_by("code")
    )


def page_rows_prefetch(patients) -> None:
    """Load what the rows of one page show (a fixed number of queries for the page):
    weights, assessments and outcomes (eligibility), the doses with their batch,
    infusion, preparation and bags with storage positions, and open adverse events."""
    from django.db.models import prefetch_related_objects

    bags = (
        DoseBag.objects.filter(live=True)
        .select_related("bag", "bag__location")
        .order_by(
            "bag__location__tank",
            "bag__location__rack",
            "bag__location__box",
            "bag__location__position",
            "bag__code",
        )
    )
    doses = Dose.objects.select_related("batch", "protocol", "infusion", "preparation").order_by(
        "number", "pk"
    )
    prefetch_related_objects(
        patients,
        "weights",
        "assessments",
        "outcomes",
        Prefetch("doses", queryset=doses),
        Prefetch("doses__dose_bags", queryset=bags),
        Prefetch(
            "adverse_events",
            queryset=AdverseEvent.objects.filter(outcome__in=OPEN_OUTCOMES).order_by("onset_at"),
            to_attr="open_adverse_events",
        ),
    )
