"""Dosing services: each rule of the issue, its refusal (nothing changed) and its audit event."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from batches.models import Bag, Batch
from core.formatting import fmt_time
from dosing import services
from dosing.exceptions import (
    AdverseEventError,
    AllocationError,
    CancellationError,
    InfusionError,
    OrderRefused,
    PreparationError,
)
from dosing.models import AdverseEvent, Dose, DoseBag, Infusion, Preparation
from tests.dosing.flow import (
    VITALS,
    allocated,
    dispensed_thawed,
    hours,
    infused_thawed,
    scan_at_bedside,
)
from tests.factories import (
    BagFactory,
    PatientFactory,
    ProtocolFactory,
    released_batch_with_bags,
)

pytestmark = pytest.mark.django_db


def last_event(obj):
    return AuditEvent.objects.for_object(obj).order_by("seq").last()


def statuses(bags):
    return [Bag.objects.get(pk=b.pk).status for b in bags]


# --- order ---------------------------------------------------------------------------------


def test_order_dose_takes_current_weight_and_target_and_is_audited(protocol, patient, pharmacist):
    dose = services.order_dose(patient, actor=pharmacist)

    assert dose.number == 1
    assert dose.status == Dose.Status.ORDERED
    assert dose.weight_kg == Decimal("78.0")
    assert dose.required_cells == 78_000_000
    event = last_event(dose)
    assert (event.action, event.actor) == ("order", pharmacist)


def test_order_refused_for_ineligible_patient_naming_the_criteria(protocol, pharmacist):
    patient = PatientFactory(assessment={"sofa_score": 2, "alt_u_l": None})

    with pytest.raises(OrderRefused) as refusal:
        services.order_dose(patient, actor=pharmacist)

    message = str(refusal.value)
    assert "not eligible" in message
    assert "SOFA score > 3" in message
    assert "ALT" in message and "missing" in message
    assert not Dose.objects.exists()


def test_order_refused_without_a_recorded_weight(protocol, pharmacist):
    patient = PatientFactory(weight_kg=False)

    with pytest.raises(OrderRefused, match="no recorded weight"):
        services.order_dose(patient, actor=pharmacist)
    assert not Dose.objects.exists()


def test_fourth_dose_refused_protocol_allows_three(
    protocol, patient, stock, pharmacist, clinician
):
    start = timezone.now() - datetime.timedelta(days=10)
    for n in range(3):
        infused_thawed(patient, pharmacist, clinician, at=start + hours(72 * n))

    with pytest.raises(OrderRefused, match="allows at most 3"):
        services.order_dose(patient, actor=pharmacist, at=start + hours(72 * 3))
    assert Dose.objects.filter(patient=patient).count() == 3


def test_second_dose_at_36_hours_refused_showing_the_window(
    protocol, patient, stock, pharmacist, clinician
):
    start = timezone.now() - datetime.timedelta(days=5)
    first = infused_thawed(patient, pharmacist, clinician, at=start)
    infused_at = first.infusion.started_at

    with pytest.raises(OrderRefused) as refusal:
        services.order_dose(patient, actor=pharmacist, planned_for=infused_at + hours(36))

    message = str(refusal.value)
    assert "36 h after dose 1" in message
    assert fmt_time(infused_at + hours(48)) in message  # earliest
    assert fmt_time(infused_at + hours(96)) in message  # latest
    assert Dose.objects.filter(patient=patient).count() == 1


def test_second_dose_at_72_hours_accepted_from_the_same_batch(
    protocol, patient, stock, pharmacist, clinician
):
    batch, _ = stock
    start = timezone.now() - datetime.timedelta(days=5)
    first = infused_thawed(patient, pharmacist, clinician, at=start)
    assert first.batch == batch
    # A batch expiring sooner arrives: first-expiry-first-out must not apply across batches
    # for a patient whose batch is fixed.
    released_batch_with_bags([75_000_000], expires_on=datetime.date(2098, 1, 1))

    planned = first.infusion.started_at + hours(72)
    second = services.order_dose(patient, actor=pharmacist, planned_for=planned, at=planned)
    second = services.allocate_dose(second, actor=pharmacist, at=planned)

    assert second.number == 2
    assert second.batch == first.batch
    assert last_event(second).action == "allocate"


def test_next_dose_refused_while_the_previous_is_not_infused(protocol, patient, stock, pharmacist):
    allocated(patient, pharmacist)
    with pytest.raises(OrderRefused, match="still allocated"):
        services.order_dose(patient, actor=pharmacist)


# --- allocation ----------------------------------------------------------------------------


def test_allocation_reserves_the_proposal_with_custody_and_audit_events(
    protocol, patient, stock, pharmacist
):
    batch, bags = stock
    dose = allocated(patient, pharmacist)

    assert dose.status == Dose.Status.ALLOCATED
    assert dose.batch == batch
    assert dose.planned_cells == 75_000_000
    reserved = [link.bag for link in dose.dose_bags.all()]
    assert [b.status for b in reserved] == [Bag.Status.RESERVED]
    bag = reserved[0]
    # After its receipt at the hospital (set-up), one custody event: the reservation.
    assert bag.events.exclude(from_status=Bag.Status.IN_TRANSIT).get().to_status == (
        Bag.Status.RESERVED
    )
    assert last_event(bag).action == "bag_reserved"
    event = last_event(dose)
    assert (event.action, event.actor) == ("allocate", pharmacist)
    assert event.changes["status"] == ["ordered", "allocated"]


def _refused(dose, pharmacist, bags, match, **kwargs):
    before = statuses(bags)
    with pytest.raises(AllocationError, match=match):
        services.allocate_dose(dose, actor=pharmacist, bags=bags, **kwargs)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ORDERED
    assert not DoseBag.objects.filter(dose=dose).exists()
    assert statuses(bags) == before


def test_allocation_refused_from_a_batch_not_released(protocol, patient, pharmacist):
    _, bags = released_batch_with_bags([75_000_000], status=Batch.Status.QUARANTINE)
    dose = services.order_dose(patient, actor=pharmacist)
    _refused(dose, pharmacist, bags, "is quarantine, not released")


def test_allocation_refused_from_an_expired_batch(protocol, patient, pharmacist):
    _, bags = released_batch_with_bags([75_000_000], expires_on=datetime.date(2020, 1, 1))
    dose = services.order_dose(patient, actor=pharmacist)
    _refused(dose, pharmacist, bags, "expired on 2020-01-01")


def test_allocation_refused_for_an_expired_bag(protocol, patient, pharmacist):
    _, bags = released_batch_with_bags([75_000_000], bag_status=Bag.Status.EXPIRED)
    dose = services.order_dose(patient, actor=pharmacist)
    _refused(dose, pharmacist, bags, "is expired")


def test_allocation_refused_for_a_discarded_bag(protocol, patient, stock, pharmacist):
    batch, _ = stock
    bag = BagFactory(
        batch=batch, nominal_cells=75_000_000, status=Bag.Status.DISCARDED, discard_reason="leak"
    )
    dose = services.order_dose(patient, actor=pharmacist)
    _refused(dose, pharmacist, [bag], r"is discarded \(leak\)")


def test_allocation_refused_for_a_bag_reserved_for_another_dose(
    protocol, patient, stock, pharmacist
):
    other = allocated(PatientFactory(weight_kg=78), pharmacist)
    taken = other.dose_bags.get().bag
    dose = services.order_dose(patient, actor=pharmacist)
    _refused(dose, pharmacist, [taken], f"already reserved for dose {other.code}")


def test_allocation_refused_from_a_second_batch_for_the_same_patient(
    protocol, patient, stock, pharmacist, clinician
):
    start = timezone.now() - datetime.timedelta(days=5)
    first = infused_thawed(patient, pharmacist, clinician, at=start)
    _, other_bags = released_batch_with_bags([75_000_000])
    planned = first.infusion.started_at + hours(72)
    dose = services.order_dose(patient, actor=pharmacist, planned_for=planned, at=planned)
    _refused(dose, pharmacist, other_bags, f"come from batch {first.batch.code}", at=planned)


def test_allocation_refused_for_bags_of_two_batches(protocol, patient, pharmacist):
    _, a = released_batch_with_bags([50_000_000])
    _, b = released_batch_with_bags([50_000_000])
    dose = services.order_dose(PatientFactory(weight_kg=100), actor=pharmacist)
    _refused(dose, pharmacist, a + b, "come from one batch")


def test_allocation_refused_when_the_dose_is_out_of_range(protocol, patient, stock, pharmacist):
    _, bags = stock
    dose = services.order_dose(patient, actor=pharmacist)
    # Two 75 ×10⁶ bags for 78 kg: 1.92 ×10⁶/kg, over the 1.30 maximum.
    _refused(dose, pharmacist, bags[:2], "outside the acceptable range")


def test_allocation_refused_when_no_whole_bags_give_a_dose_in_range(protocol, pharmacist, stock):
    dose = services.order_dose(PatientFactory(weight_kg=40), actor=pharmacist)
    with pytest.raises(AllocationError, match="has whole bags that give"):
        services.allocate_dose(dose, actor=pharmacist)
    assert not DoseBag.objects.exists()


def test_override_needs_a_named_physician_and_a_written_reason(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    dose = services.order_dose(patient, actor=pharmacist)
    _refused(dose, pharmacist, bags[:2], "name the physician", override_physician="Dr. Ruiz (ICU)")
    _refused(dose, pharmacist, bags[:2], "name the physician", override_reason="clinical need")


def test_override_with_physician_and_reason_is_recorded_on_the_dose_and_the_trail(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    dose = services.order_dose(patient, actor=pharmacist)

    dose = services.allocate_dose(
        dose,
        actor=pharmacist,
        bags=bags[:2],
        override_physician="Dr. Ruiz (ICU)",
        override_reason="fluid-restricted; single infusion preferred",
    )

    assert dose.status == Dose.Status.ALLOCATED
    assert dose.override_physician == "Dr. Ruiz (ICU)"
    event = last_event(dose)
    assert event.action == "override_allocate"
    assert event.reason == "fluid-restricted; single infusion preferred"
    assert event.changes["override_physician"] == ["", "Dr. Ruiz (ICU)"]


def test_override_refused_when_the_protocol_allows_none(patient, stock, pharmacist):
    ProtocolFactory(overrides_allowed=False)
    _, bags = stock
    dose = services.order_dose(patient, actor=pharmacist)
    _refused(
        dose,
        pharmacist,
        bags[:2],
        "allows no override",
        override_physician="Dr. Ruiz",
        override_reason="why",
    )


def test_a_bag_cannot_have_two_live_reservations_even_bypassing_the_service(
    protocol, patient, stock, pharmacist, system_context
):
    dose = allocated(patient, pharmacist)
    link = dose.dose_bags.get()
    other = services.order_dose(PatientFactory(weight_kg=78), actor=pharmacist)
    with pytest.raises(IntegrityError), transaction.atomic():
        DoseBag.objects.create(
            dose=other, bag=link.bag, cells=1, volume_ml=1, reserved_at=timezone.now()
        )


# --- preparation -----------------------------------------------------------------------------


def test_thaw_moves_bags_and_writes_premedication_per_protocol(
    protocol, patient, stock, pharmacist
):
    dose = allocated(patient, pharmacist)
    prep = services.record_thaw(dose, actor=pharmacist)

    assert prep.method == Preparation.Method.THAWED
    assert prep.premedication == "Steroids and dexchlorpheniramine"
    dose.refresh_from_db()
    assert dose.status == Dose.Status.PREPARED
    assert dose.use_before == prep.thawed_at + datetime.timedelta(minutes=60)
    assert [link.bag.status for link in dose.dose_bags.all()] == [Bag.Status.THAWED]
    assert (last_event(prep).action, last_event(prep).actor) == ("thaw", pharmacist)


def test_custody_events_carry_the_time_of_each_step_not_the_time_of_entry(
    protocol, patient, stock, pharmacist
):
    start = timezone.now() - hours(30)
    dose = dispensed_thawed(patient, pharmacist, at=start)

    bag = dose.dose_bags.get().bag
    steps = {event.to_status: event.occurred_at for event in bag.events.all()}
    assert steps[Bag.Status.RESERVED] == start
    assert steps[Bag.Status.THAWED] == start + datetime.timedelta(minutes=5)
    assert steps[Bag.Status.DISPENSED] == start + datetime.timedelta(minutes=10)


def _refresh(dose, pharmacist, *, seeded, harvested, at, viable=76_000_000, **kwargs):
    return services.record_refresh(
        dose,
        actor=pharmacist,
        thawed_at=seeded - hours(1),
        seeded_at=seeded,
        harvested_at=harvested,
        viable_cells=viable,
        viability_pct=Decimal("94.0"),
        volume_ml=Decimal("50.0"),
        at=at,
        **kwargs,
    )


def test_refresh_recalculates_the_dose_from_the_viable_count(protocol, patient, stock, pharmacist):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))
    prep = _refresh(dose, pharmacist, seeded=now - hours(48), harvested=now - hours(1), at=now)

    dose.refresh_from_db()
    assert dose.delivered_cells == 76_000_000
    assert dose.use_before == prep.harvested_at + hours(24)
    assert [link.bag.status for link in dose.dose_bags.all()] == [Bag.Status.IN_REFRESH]
    assert last_event(prep).action == "refresh"


def test_refresh_refused_after_72_hours_of_culture(protocol, patient, stock, pharmacist):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(80))
    with pytest.raises(PreparationError, match="cultured for 72.0 h"):
        _refresh(dose, pharmacist, seeded=now - hours(73), harvested=now - hours(1), at=now)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ALLOCATED
    assert not Preparation.objects.exists()


def test_refresh_refused_past_24_hours_from_harvest(protocol, patient, stock, pharmacist):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(80))
    with pytest.raises(PreparationError, match="within 24 h of harvest"):
        _refresh(dose, pharmacist, seeded=now - hours(70), harvested=now - hours(25), at=now)
    assert not Preparation.objects.exists()


def test_refresh_with_viable_count_out_of_range_needs_an_override(
    protocol, patient, stock, pharmacist
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))
    with pytest.raises(AllocationError, match="outside the acceptable range"):
        _refresh(
            dose,
            pharmacist,
            seeded=now - hours(48),
            harvested=now - hours(1),
            at=now,
            viable=40_000_000,
        )
    assert not Preparation.objects.exists()


def test_dispense_sets_use_before_and_moves_bags(protocol, patient, stock, pharmacist):
    dose = dispensed_thawed(patient, pharmacist)

    assert dose.status == Dose.Status.DISPENSED
    assert dose.use_before == dose.preparation.thawed_at + datetime.timedelta(minutes=60)
    assert [link.bag.status for link in dose.dose_bags.all()] == [Bag.Status.DISPENSED]
    assert (last_event(dose).action, last_event(dose).actor) == ("dispense", pharmacist)


def test_dispense_refused_for_a_thawed_product_past_its_limit(
    protocol, patient, stock, pharmacist
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(2))
    services.record_thaw(dose, actor=pharmacist, at=now - hours(2))
    with pytest.raises(PreparationError, match="past its limit"):
        services.dispense_dose(dose, actor=pharmacist, at=now)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.PREPARED


def test_dispense_refused_for_a_refreshed_product_past_24_hours_from_harvest(
    protocol, patient, stock, pharmacist
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(80))
    _refresh(
        dose, pharmacist, seeded=now - hours(60), harvested=now - hours(30), at=now - hours(29)
    )
    with pytest.raises(PreparationError, match="within 24 h of harvest"):
        services.dispense_dose(dose, actor=pharmacist, at=now)


# --- infusion --------------------------------------------------------------------------------


def _infuse(dose, clinician, *, started_at=None, **kwargs):
    started_at = started_at or timezone.now() - datetime.timedelta(minutes=30)
    defaults = {
        "filter_confirmed": True,
        "premedication_given": "methylprednisolone + dexchlorpheniramine",
        "vitals": VITALS,
    }
    if dose.status == Dose.Status.DISPENSED:
        scan_at_bedside(dose, clinician, at=started_at)
    return services.record_infusion(
        dose,
        actor=clinician,
        started_at=started_at,
        ended_at=started_at + datetime.timedelta(minutes=20),
        **{**defaults, **kwargs},
    )


def test_infusion_of_a_dispensed_dose_is_recorded_and_bags_infused(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    infusion = _infuse(dose, clinician)

    dose.refresh_from_db()
    assert dose.status == Dose.Status.INFUSED
    assert infusion.route == Infusion.Route.IV
    assert infusion.heart_rate_before == 88
    assert [link.bag.status for link in dose.dose_bags.all()] == [Bag.Status.INFUSED]
    assert (last_event(infusion).action, last_event(infusion).actor) == ("infuse", clinician)


def test_infusion_refused_for_a_dose_not_dispensed(
    protocol, patient, stock, pharmacist, clinician
):
    dose = allocated(patient, pharmacist)
    with pytest.raises(InfusionError, match="not dispensed"):
        _infuse(dose, clinician)
    assert not Infusion.objects.exists()


def test_second_infusion_record_for_a_dose_refused(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    _infuse(dose, clinician)
    with pytest.raises(InfusionError, match="already has an infusion record"):
        _infuse(dose, clinician)
    assert Infusion.objects.count() == 1


def test_infusion_refused_without_the_200_micron_filter(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    with pytest.raises(InfusionError, match="200 µm"):
        _infuse(dose, clinician, filter_confirmed=False)
    assert not Infusion.objects.exists()


def test_infusion_refused_without_required_premedication(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    with pytest.raises(InfusionError, match="requires premedication"):
        _infuse(dose, clinician, premedication_given="")


def test_infusion_of_a_thawed_product_past_its_limit_refused(
    protocol, patient, stock, pharmacist, clinician
):
    start = timezone.now() - hours(3)
    dose = dispensed_thawed(patient, pharmacist, at=start)
    late = dose.preparation.thawed_at + datetime.timedelta(minutes=61)
    with pytest.raises(InfusionError, match="a thawed product is infused within 60 min"):
        _infuse(dose, clinician, started_at=late)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.DISPENSED


def test_infusion_of_a_refreshed_product_past_24_hours_from_harvest_refused(
    protocol, patient, stock, pharmacist, clinician
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(80))
    prep = _refresh(
        dose, pharmacist, seeded=now - hours(70), harvested=now - hours(26), at=now - hours(25)
    )
    services.dispense_dose(dose, actor=pharmacist, at=now - hours(25))
    with pytest.raises(InfusionError, match="within 24 h of harvest"):
        _infuse(
            dose,
            clinician,
            started_at=prep.harvested_at
            + hours(
                24,
            )
            + hours(0.5),
        )
    assert not Infusion.objects.exists()


# --- adverse events and cancellation ---------------------------------------------------------


def test_fatal_gi_bleed_judged_unlikely_is_reported(
    protocol, patient, stock, pharmacist, clinician
):
    dose = infused_thawed(patient, pharmacist, clinician)
    event = services.report_adverse_event(
        patient,
        actor=clinician,
        dose=dose,
        onset_at=timezone.now() - hours(0.1),
        description="Massive gastrointestinal bleeding from a gastric ulcer",
        ctcae_grade=5,
        serious=True,
        outcome=AdverseEvent.Outcome.FATAL,
        causality=AdverseEvent.Causality.UNLIKELY,
    )
    assert event.causality == "unlikely"
    assert (last_event(event).action, last_event(event).actor) == (
        "report_adverse_event",
        clinician,
    )


def test_grade_5_without_a_fatal_outcome_is_refused(protocol, patient, clinician):
    with pytest.raises(AdverseEventError, match="grade 5"):
        services.report_adverse_event(
            patient,
            actor=clinician,
            onset_at=timezone.now(),
            description="x",
            ctcae_grade=5,
            serious=True,
            outcome=AdverseEvent.Outcome.RECOVERED,
            causality=AdverseEvent.Causality.UNLIKELY,
        )
    assert not AdverseEvent.objects.exists()


def test_cancel_releases_reserved_bags_back_to_available(protocol, patient, stock, pharmacist):
    dose = allocated(patient, pharmacist)
    link = dose.dose_bags.get()

    services.cancel_dose(dose, actor=pharmacist, reason="patient extubated")

    dose.refresh_from_db()
    link.refresh_from_db()
    assert dose.status == Dose.Status.CANCELLED
    assert link.live is False
    assert link.bag.status == Bag.Status.AVAILABLE
    event = last_event(dose)
    assert event.action == "cancel"
    assert "patient extubated" in event.reason
    # The bag can be reserved again.
    assert allocated(PatientFactory(weight_kg=78), pharmacist).dose_bags.exists()


def test_cancel_after_thaw_discards_the_bags(protocol, patient, stock, pharmacist):
    dose = allocated(patient, pharmacist)
    services.record_thaw(dose, actor=pharmacist)
    services.cancel_dose(dose, actor=pharmacist, reason="patient unstable")
    bag = dose.dose_bags.get().bag
    bag.refresh_from_db()
    assert bag.status == Bag.Status.DISCARDED


def test_cancel_refused_without_a_reason_or_after_infusion(
    protocol, patient, stock, pharmacist, clinician
):
    # Cancelled before the next patient's dose reserves the same bag (custody in order).
    earlier = timezone.now() - datetime.timedelta(hours=3)
    dose = allocated(patient, pharmacist, at=earlier)
    with pytest.raises(CancellationError, match="why"):
        services.cancel_dose(dose, actor=pharmacist, reason=" ")
    services.cancel_dose(dose, actor=pharmacist, reason="ok", at=earlier)
    infused = infused_thawed(PatientFactory(weight_kg=78), pharmacist, clinician)
    with pytest.raises(CancellationError, match="infused"):
        services.cancel_dose(infused, actor=pharmacist, reason="too late")
