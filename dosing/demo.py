"""Demo doses for the 13-patient cohort of the case series, made through the services.

The paper's protocol (v1): 1×10⁶ AT-MSC/kg (accepted 0.7–1.3), up to 3 doses 48–96 h
apart, refresh culture < 72 h, infusion within 24 h of harvest, premedication (steroids and
dexchlorpheniramine) before a thawed product, 200 µm filter. The cohort's shape: 6 patients
thawed and 7 refreshed; 10 patients with two doses, 2 with one, 1 with three; every
patient's doses from one released batch (the calculator's choice: first-expiry-first-out
among batches with stock for the whole course); every dose before the patient's recorded
extubation, ICU discharge or death (an interval is shortened by whole days, never below
48 h, where needed); all infused with vitals; a few adverse events, among them the fatal
GI bleed about 24 h after the first dose, judged unlikely to be related.

Invented (the paper's tables are not in its text): which donor's batch each patient had,
the intervals and refreshed counts (chosen so that the figures match the paper's), the hours,
the vitals and the post-harvest counts. Idempotent: a patient with doses is left alone.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from batches import services as batch_services
from batches.models import Bag, Batch, ShipmentBag
from dosing import services
from dosing.calculator import DoseRange, cells_range
from dosing.exceptions import DosingError
from dosing.models import AdverseEvent, Dose, Protocol
from patients.models import Patient

# Thawed at Salamanca and Navarra, refreshed at Fundación Jiménez Díaz and Marañón.
THAWED_AT = {"HUS", "CUN"}
DOSES = {"SAL-P03": 1, "FJD-P02": 1, "CUN-P01": 3}  # everyone else: 2
# Days from one infusion to the next (paper, dose 1 → dose 2: median 3, IQR 1 in SPSS
# quartiles over the 11 patients with a second dose: 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4).
INTERVAL_DAYS = {"SAL-P02": (2,), "HGM-P01": (2,), "FJD-P03": (2,), "FJD-P01": (4,)}
INTERVAL_DAYS |= {"CUN-P02": (4,), "CUN-P01": (3, 2)}  # everyone else: 3
# The donor whose batch gives each patient's whole course (the 5 donors of the series).
DONOR_OF = {
    **dict.fromkeys(["SAL-P01", "SAL-P02", "SAL-P03"], "ATD-001"),
    **dict.fromkeys(["SAL-P04", "CUN-P01", "CUN-P02"], "ATD-004"),
    **dict.fromkeys(["FJD-P01", "FJD-P02", "FJD-P03"], "ATD-002"),
    **dict.fromkeys(["HGM-P01", "HGM-P02"], "ATD-003"),
    **dict.fromkeys(["HGM-P03", "HGM-P04"], "ATD-005"),
}
# Post-harvest viable cells per kg (×10⁶) of each refreshed dose. A thawed dose gives its
# bags' cells (whole bags over the weight: 0.73 to 1.25). With them, the 25 doses' SPSS
# median is 0.98 and IQR 0.50 (Q1 0.74, Q3 1.24), as in the paper.
REFRESHED_PER_KG = {
    "FJD-P01": ("0.71", "1.00"),
    "FJD-P02": ("0.98",),
    "FJD-P03": ("1.05", "1.10"),
    "HGM-P01": ("0.72", "1.15"),
    "HGM-P02": ("1.20", "1.23"),
    "HGM-P03": ("1.26", "1.27"),
    "HGM-P04": ("1.28", "1.29"),
}
PREMEDICATION = "Methylprednisolone 40 mg IV + dexchlorpheniramine 5 mg IV"

ADVERSE_EVENTS = {
    # code: (hours after dose 1 infusion, description, grade, serious, outcome, causality)
    "SAL-P03": (
        24,
        "Massive gastrointestinal bleeding from a gastric ulcer at the tip of the "
        "nasogastric tube; severe fall in haemoglobin",
        5,
        True,
        AdverseEvent.Outcome.FATAL,
        AdverseEvent.Causality.UNLIKELY,
    ),
    "HGM-P02": (
        12 * 24,
        "Secondary fungal pneumonia",
        5,
        True,
        AdverseEvent.Outcome.FATAL,
        AdverseEvent.Causality.UNLIKELY,
    ),
    "FJD-P01": (
        6,
        "Transient fever 38.1 °C",
        1,
        False,
        AdverseEvent.Outcome.RECOVERED,
        AdverseEvent.Causality.UNLIKELY,
    ),
}


def _vitals(i: int) -> dict:
    return {
        "heart_rate_before": 82 + i % 9,
        "systolic_bp_before": 112 + i % 15,
        "diastolic_bp_before": 62 + i % 9,
        "spo2_pct_before": 92 + i % 4,
        "temperature_c_before": Decimal("36.8") + Decimal(i % 5) / 10,
        "heart_rate_after": 84 + i % 8,
        "systolic_bp_after": 114 + i % 13,
        "diastolic_bp_after": 64 + i % 7,
        "spo2_pct_after": 93 + i % 4,
        "temperature_c_after": Decimal("36.9") + Decimal(i % 4) / 10,
    }


def _protocol(actor) -> Protocol:
    protocol = Protocol.objects.filter(code="AT-MSC-COVID", version=1).first()
    if protocol is None:
        protocol = services.create_protocol(
            actor=actor,
            reason="the case series' protocol (demo)",
            code="AT-MSC-COVID",
            version=1,
            active=True,
            effective_from=datetime.date(2020, 3, 1),
        )
    return protocol


def _next_dose_at(previous_at, hours, protocol, ends_on):
    """The next dose `hours` after the previous one, brought forward by whole days (not
    below the protocol's minimum) so that it falls before the day the patient was
    extubated, discharged from ICU or died (`ends_on`): no dose is given after that."""
    while True:
        at = previous_at + datetime.timedelta(hours=hours)
        if ends_on is None or timezone.localdate(at) < ends_on:
            return at
        if hours - 24 < protocol.min_interval_hours:
            return None
        hours -= 24


def _course_bags(bags, weight_kg, protocol, n_doses) -> list[Bag]:
    """Whole bags of one batch that give `n_doses` doses within the protocol's range at
    `weight_kg` (largest first, a bag that would overshoot a dose skipped); [] if none."""
    low, high = cells_range(weight_kg, DoseRange.from_protocol(protocol))
    left = sorted(bags, key=lambda b: (-b.nominal_cells, b.code))
    chosen = []
    for _ in range(n_doses):
        dose, total = [], 0
        for bag in list(left):
            if total + bag.nominal_cells <= high:
                dose.append(bag)
                total += bag.nominal_cells
                if total >= low:
                    break
        if total < low:
            return []
        for bag in dose:
            left.remove(bag)
        chosen += dose
    return chosen


def _ship_course(patient, n_doses, protocol, users, before, extra=0) -> None:
    """Every hospital gets its bags through a shipment: before a patient's first dose,
    the facility whose stock (first expiry first) can give the whole course ships those
    bags (created, dispatched by its production, received in range by the hospital's
    pharmacy), a few hours before the order. `extra` more bags of the patient's batch
    when the calculator split the course otherwise."""
    hospital = patient.hospital
    stored = (
        Bag.objects.available_for_allocation(on_date=timezone.localdate(before))
        .filter(location__facility__isnull=False)
        .exclude(pk__in=ShipmentBag.objects.filter(open=True).values("bag_id"))
        .select_related("batch__facility")
    )
    fixed = Dose.objects.filter(patient=patient, batch__isnull=False).first()
    if fixed is not None:
        stored = stored.filter(batch=fixed.batch)
    elif patient.code in DONOR_OF:
        stored = stored.filter(batch__donor__code=DONOR_OF[patient.code])
    by_batch: dict = {}
    for bag in stored:
        by_batch.setdefault(bag.batch, []).append(bag)
    weight = patient.current_weight().weight_kg
    for bags in by_batch.values():
        chosen = bags[:extra] if extra else _course_bags(bags, weight, protocol, n_doses)
        if chosen:
            break
    else:
        return
    facility = chosen[0].batch.facility
    production = users["site"][("production", facility.fin)]
    pharmacy = users["site"][("pharmacy", hospital.code)]
    created = before - datetime.timedelta(hours=6)
    shipment = batch_services.create_shipment(
        facility=facility,
        hospital=hospital,
        bags=chosen,
        actor=production,
        shipper_id=f"DS-{facility.fin}-{hospital.code}",
        logger_id=f"TL-{patient.code}",
        at=created,
    )
    batch_services.dispatch_shipment(
        shipment, actor=production, at=created + datetime.timedelta(hours=1)
    )
    batch_services.receive_shipment(
        shipment,
        actor=pharmacy,
        logger_result=shipment.LoggerResult.IN_RANGE,
        tank="PH-LN2",
        rack="1",
        box=shipment.code,
        at=created + datetime.timedelta(hours=4),
    )


def _give(patient, number, first_dose_at, protocol, users, i, not_before=None):
    """One dose through order → allocate → thaw/refresh → dispense → infusion.

    `not_before`: nothing of this dose happens before it (the previous infusion's end),
    so a refresh culture for dose 2 starts only after dose 1 was given."""
    pharmacy, clinician = users["pharmacy"], users["clinician"]
    start = first_dose_at
    thawed = patient.hospital.code in THAWED_AT
    ordered_at = start - (datetime.timedelta(minutes=30) if thawed else datetime.timedelta(days=3))
    if not_before is not None:
        ordered_at = max(ordered_at, not_before)
    if number == 1 and "site" in users:
        _ship_course(patient, DOSES.get(patient.code, 2), protocol, users, ordered_at)
    dose = services.order_dose(patient, actor=pharmacy, planned_for=start, at=ordered_at)
    try:
        services.allocate_dose(dose, actor=pharmacy, at=ordered_at)
    except DosingError:
        if "site" not in users:
            raise
        _ship_course(patient, 1, protocol, users, ordered_at, extra=2)
        services.allocate_dose(dose, actor=pharmacy, at=ordered_at)
    dose.refresh_from_db()
    if thawed:
        thaw = start - datetime.timedelta(minutes=10)
        services.record_thaw(dose, actor=pharmacy, thawed_at=thaw, at=thaw)
        services.dispense_dose(dose, actor=pharmacy, at=thaw + datetime.timedelta(minutes=3))
    else:
        low, high = cells_range(dose.weight_kg, DoseRange.from_protocol(protocol))
        # Cells expand a little in the < 72 h of culture (REFRESHED_PER_KG).
        per_kg = Decimal(REFRESHED_PER_KG[patient.code][number - 1])
        viable = int(dose.weight_kg * per_kg * 1_000_000)
        viable = min(max(viable, low), high)
        harvested = start - datetime.timedelta(hours=2)
        thawed_at = max(start - datetime.timedelta(hours=50), ordered_at)
        services.record_refresh(
            dose,
            actor=pharmacy,
            thawed_at=thawed_at,
            seeded_at=thawed_at + datetime.timedelta(minutes=30),
            harvested_at=harvested,
            viable_cells=viable,
            viability_pct=Decimal("93.5") - Decimal(i % 6),
            volume_ml=Decimal("50.0"),
            at=harvested + datetime.timedelta(minutes=40),
        )
        services.dispense_dose(dose, actor=pharmacy, at=start - datetime.timedelta(minutes=45))
    # The bedside check: the patient's wristband, then every bag of the dose.
    check_at = start - datetime.timedelta(minutes=2)
    services.record_bedside_scan(dose, actor=clinician, code=patient.code, at=check_at)
    for link in dose.dose_bags.filter(live=True).select_related("bag"):
        services.record_bedside_scan(dose, actor=clinician, code=link.bag.code, at=check_at)
    services.record_infusion(
        dose,
        actor=clinician,
        started_at=start,
        ended_at=start + datetime.timedelta(minutes=30),
        filter_confirmed=True,
        premedication_given=PREMEDICATION if thawed else "",
        vitals=_vitals(i + number),
        immediate_reactions="None observed during or 1 h after the infusion.",
        at=start + datetime.timedelta(minutes=45),
    )
    return dose


def seed(*, users, stdout) -> None:
    from patients.demo import FIRST_DOSE_ON

    protocol = _protocol(users["pharmacy"])
    made = 0
    for i, code in enumerate(sorted(FIRST_DOSE_ON, key=lambda c: (FIRST_DOSE_ON[c], c))):
        patient = Patient.objects.filter(code=code).first()
        if patient is None or Dose.objects.filter(patient=patient).exists():
            continue
        n_doses = DOSES.get(code, 2)
        start = timezone.make_aware(
            datetime.datetime.combine(FIRST_DOSE_ON[code], datetime.time(10, 0))
        )
        ends = patient.outcomes.order_by("occurred_on").first()
        ends_on = ends.occurred_on if ends else None
        at = start
        first = None
        not_before = None
        for number in range(1, n_doses + 1):
            try:
                dose = _give(patient, number, at, protocol, users, i, not_before=not_before)
            except DosingError as error:
                stdout.write(f"dosing: dose {number} of {code} not given: {error}")
                break
            first = first or dose
            not_before = at + datetime.timedelta(minutes=45)
            if number == n_doses:
                break
            hours = 24 * INTERVAL_DAYS.get(code, (3, 3))[number - 1]
            at = _next_dose_at(at, hours, protocol, ends_on)
            if at is None:
                break
        if code in ADVERSE_EVENTS:
            hours, description, grade, serious, outcome, causality = ADVERSE_EVENTS[code]
            services.report_adverse_event(
                patient,
                actor=users["clinician"],
                dose=first,
                onset_at=start + datetime.timedelta(hours=hours),
                description=description,
                ctcae_grade=grade,
                serious=serious,
                outcome=outcome,
                causality=causality,
            )
        made += 1
    doses = Dose.objects.filter(status=Dose.Status.INFUSED).count()
    spare = Bag.objects.filter(
        status=Bag.Status.AVAILABLE, batch__status=Batch.Status.RELEASED
    ).count()
    stdout.write(
        f"dosing: protocol {protocol}; doses for {made} patients ({doses} infused doses in "
        f"all; {spare} bags still available)."
    )
