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
from django.db.models.functions import Coalesce

from dosing.models import AdverseEvent, BedsideScan, Dose, DoseBag, Protocol
from dosing.models.protocol import MAX_DOSE_NUMBER
from patients.models import ClinicalOutcome

S = Dose.Status
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


def _int(subquery) -> Coalesce:
    return Coalesce(Subquery(subquery, output_field=IntegerField()), Value(0))


def annotate_work(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    """`patients` with what there is to do, in SQL: `open_status`, `open_dose_id`,
    `live_doses`, `last_infused_at`, `window_closes_at`, `course_max`, `ended`,
    `finished` and `deadline` (the open dose's, else the close of the next dose's
    window; null when nothing presses)."""
    live = Dose.objects.filter(patient=OuterRef("pk")).exclude(status=S.CANCELLED)
    open_ = live.exclude(status=S.INFUSED).order_by("-number")
    infused = live.filter(status=S.INFUSED).order_by("-number")
    count = live.order_by().values("patient").annotate(n=Count("pk")).values("n")
    protocols = Protocol.objects.order_by("pk").values("pk", "max_interval_hours", "max_doses")
    protocols = list(protocols)
    closes = [
        When(
            last_protocol=p["pk"],
            then=F("last_infused_at") + Value(datetime.timedelta(hours=p["max_interval_hours"])),
        )
        for p in protocols
    ]
    course_max = [When(last_protocol=p["pk"], then=Value(p["max_doses"])) for p in protocols]
    annotated = patients.annotate(
        open_status=Subquery(open_.values("status")[:1]),
        open_dose_id=Subquery(open_.values("pk")[:1]),
        open_deadline=Subquery(
            open_.annotate(due=Coalesce("use_before", "planned_for")).values("due")[:1]
        ),
        live_doses=_int(count),
        last_infused_at=Subquery(infused.values("infusion__started_at")[:1]),
        last_protocol=Subquery(infused.values("protocol_id")[:1]),
        ended=Exists(
            ClinicalOutcome.objects.filter(patient=OuterRef("pk"), kind__in=ENDING_OUTCOMES)
        ),
    ).annotate(
        window_closes_at=Case(*closes, default=None, output_field=DateTimeField()),
        course_max=Case(*course_max, default=Value(MAX_DOSE_NUMBER), output_field=IntegerField()),
    )
    finished = Q(open_status__isnull=True) & (
        Q(ended=True) | Q(live_doses__gte=F("course_max")) | Q(window_closes_at__lt=now)
    )
    return annotated.annotate(
        finished=Case(
            When(finished, then=Value(True)), default=Value(False), output_field=BooleanField()
        ),
        deadline=Case(
            When(open_status__isnull=False, then=F("open_deadline")),
            default=F("window_closes_at"),
            output_field=DateTimeField(),
        ),
    )


def may_have_work(*, now: datetime.datetime) -> Q:
    """The patients who may have something to do, by conditions the database answers from
    the doses in one pass (uncorrelated, hashed subqueries), before any per-patient
    annotation is computed: an open dose, no live dose yet, or an infusion recent enough
    for a window still to be open (the longest interval of any protocol). A superset of
    the patients not `finished`: at the size of a network most patients are finished, and
    only these few have their work computed."""
    longest = max(Protocol.objects.values_list("max_interval_hours", flat=True), default=0)
    live = Dose.objects.exclude(status=S.CANCELLED)
    open_ = live.exclude(status=S.INFUSED).values("patient_id")
    recent = live.filter(
        status=S.INFUSED, infusion__started_at__gte=now - datetime.timedelta(hours=longest)
    ).values("patient_id")
    return Q(pk__in=open_) | Q(pk__in=recent) | ~Q(pk__in=live.values("patient_id"))


def to_do(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    """The patients with something to do, the most pressing deadline first (none last)."""
    return (
        annotate_work(patients.filter(may_have_work(now=now)), now=now)
        .filter(finished=False)
        .order_by(F("deadline").asc(nulls_last=True), "code")
    )


def finished(patients: QuerySet, *, now: datetime.datetime) -> QuerySet:
    """The finished patients by code: those who cannot have work, and those who may but
    have none."""
    candidate = may_have_work(now=now)
    return (
        annotate_work(patients, now=now)
        .filter(~candidate | (candidate & Q(finished=True)))
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
    # Only patients with a dispensed dose or an open event can be on it (hashed subqueries).
    dispensed = Dose.objects.filter(status=S.DISPENSED).values("patient_id")
    followed = AdverseEvent.objects.filter(outcome__in=OPEN_OUTCOMES).values("patient_id")
    patients = patients.filter(Q(pk__in=dispensed) | Q(pk__in=followed))
    return (
        with_open_adverse_events(annotate_work(patients, now=now))
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
