"""Rules checked again after the order, against real times and the batch as it is now.

From the dosing review: the interval window is a gate at thaw, refresh and infusion (not
only at the order's typed time); an override covers only the total it approved; a batch
no longer released, expired or changed after the QP signed never reaches a patient; the
first dose's batch can supply the course; a recorded death, extubation or ICU discharge
stops the next dose; and the smaller gaps (bags chosen by hand, dose numbers above 3, an
infusion end in the future, a protocol version in use edited in place).
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.context import Origin, audit_context
from audit.models import AuditEvent
from batches.models import Batch
from core.formatting import fmt_time
from dosing import services
from dosing.exceptions import AllocationError, InfusionError, OrderRefused, PreparationError
from dosing.models import Dose, Protocol
from patients.services import record_outcome
from tests.dosing.flow import VITALS, allocated, hours, infused_thawed
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags

pytestmark = pytest.mark.django_db

MINUTES = datetime.timedelta(minutes=1)


def last_event(obj):
    return AuditEvent.objects.for_object(obj).order_by("seq").last()


def infuse(dose, clinician, started_at, *, at=None):
    return services.record_infusion(
        dose,
        actor=clinician,
        started_at=started_at,
        ended_at=started_at + 20 * MINUTES,
        filter_confirmed=True,
        premedication_given="methylprednisolone",
        vitals=VITALS,
        at=at or started_at + 25 * MINUTES,
    )


def second_dose(patient, pharmacist, clinician, *, first_at, order_at, planned_for=None):
    """Dose 1 infused at first_at + 20 min; dose 2 ordered at order_at (allocated)."""
    infused_thawed(patient, pharmacist, clinician, at=first_at)
    dose = services.order_dose(
        patient, actor=pharmacist, planned_for=planned_for or order_at, at=order_at
    )
    return services.allocate_dose(dose, actor=pharmacist, at=order_at)


def change_batch_record(batch, **changes):
    """A correction of the batch record after the QP signed (bypasses the batch services,
    which others own; what matters here is that the record no longer matches)."""
    with audit_context(actor=None, reason="test: corrected after release", origin=Origin.TEST):
        Batch.objects.filter(pk=batch.pk).update_audited(audit_action="correct", **changes)


# --- C1: the interval window is checked against real times ---------------------------------


def test_infusion_refused_before_the_window_opens_after_the_previous_real_infusion(
    protocol, patient, stock, pharmacist, clinician
):
    """The order's planned time was inside the window; the thaw could still be infused
    in time; the real start, 10 min before the window opens, is refused."""
    first_at = timezone.now() - hours(49)
    opens = first_at + 20 * MINUTES + hours(48)
    dose = second_dose(
        patient,
        pharmacist,
        clinician,
        first_at=first_at,
        order_at=opens - hours(1),
        planned_for=opens + hours(1),
    )
    services.record_thaw(dose, actor=pharmacist, at=opens - 30 * MINUTES)
    services.dispense_dose(dose, actor=pharmacist, at=opens - 25 * MINUTES)
    with pytest.raises(InfusionError, match="outside the interval window") as refusal:
        infuse(dose, clinician, opens - 10 * MINUTES)
    assert refusal.value.field == "started_at"
    assert fmt_time(opens) in str(refusal.value)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.DISPENSED


def test_infusion_refused_after_the_window_closes(protocol, patient, stock, pharmacist, clinician):
    first_at = timezone.now() - hours(100)
    closes = first_at + 20 * MINUTES + hours(96)
    dose = second_dose(
        patient, pharmacist, clinician, first_at=first_at, order_at=closes - hours(2)
    )
    services.record_thaw(dose, actor=pharmacist, at=closes - 30 * MINUTES)
    services.dispense_dose(dose, actor=pharmacist, at=closes - 25 * MINUTES)
    with pytest.raises(InfusionError, match="outside the interval window"):
        infuse(dose, clinician, closes + 10 * MINUTES)


def test_infusion_inside_the_window_is_recorded(protocol, patient, stock, pharmacist, clinician):
    first_at = timezone.now() - hours(50)
    opens = first_at + 20 * MINUTES + hours(48)
    dose = second_dose(patient, pharmacist, clinician, first_at=first_at, order_at=opens)
    services.record_thaw(dose, actor=pharmacist, at=opens + 5 * MINUTES)
    services.dispense_dose(dose, actor=pharmacist, at=opens + 10 * MINUTES)
    infuse(dose, clinician, opens + 15 * MINUTES)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.INFUSED


def test_thaw_refused_when_the_product_could_only_be_infused_before_the_window(
    protocol, patient, stock, pharmacist, clinician
):
    """The reviewer's case: dose 2 ordered for inside the window, thawed 12 h after
    dose 1. A thawed product is infused within 60 min, so it can never be in time."""
    first_at = timezone.now() - hours(12)
    infused_thawed(patient, pharmacist, clinician, at=first_at)
    start = Dose.objects.get(number=1).infusion.started_at
    now = timezone.now()
    dose = services.order_dose(patient, actor=pharmacist, planned_for=start + hours(50), at=now)
    services.allocate_dose(dose, actor=pharmacist, at=now)
    with pytest.raises(PreparationError, match="outside the interval window") as refusal:
        services.record_thaw(dose, actor=pharmacist, at=now)
    message = str(refusal.value)
    assert fmt_time(start + hours(48)) in message
    assert fmt_time(start + hours(96)) in message
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ALLOCATED


def test_refresh_refused_when_the_harvest_limit_ends_before_the_window_opens(
    protocol, patient, stock, pharmacist, clinician
):
    first_at = timezone.now() - hours(12)
    infused_thawed(patient, pharmacist, clinician, at=first_at)
    start = Dose.objects.get(number=1).infusion.started_at
    now = timezone.now()
    dose = services.order_dose(patient, actor=pharmacist, planned_for=start + hours(50), at=now)
    services.allocate_dose(dose, actor=pharmacist, at=now)
    # Harvested 11 h after dose 1: the 24 h harvest limit ends 35 h after it (< 48 h).
    with pytest.raises(PreparationError, match="outside the interval window"):
        services.record_refresh(
            dose,
            actor=pharmacist,
            thawed_at=start - hours(1),
            seeded_at=start - hours(1) + 30 * MINUTES,
            harvested_at=start + hours(11),
            viable_cells=78_000_000,
            viability_pct=Decimal("92.0"),
            volume_ml=Decimal("50.0"),
            at=now,
        )


def test_order_page_shows_the_window_and_prefills_no_time_outside_it(
    client, protocol, patient, stock, pharmacist, clinician
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(12))
    start = Dose.objects.get(number=1).infusion.started_at
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    html = page.content.decode()
    assert page.context["form"]["planned_for"].value() is None
    assert fmt_time(start + hours(48)) in html
    assert fmt_time(start + hours(96)) in html


def test_order_page_prefills_now_when_now_is_inside_the_window(
    client, protocol, patient, stock, pharmacist, clinician
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(50))
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    prefilled = page.context["form"]["planned_for"].value()
    assert prefilled == timezone.localtime().strftime("%Y-%m-%dT%H:%M")


# --- M3: an override covers only the total it approved -------------------------------------


def _allocated_with_override(patient, pharmacist, bags, at):
    dose = services.order_dose(patient, actor=pharmacist, at=at)
    return services.allocate_dose(
        dose,
        actor=pharmacist,
        bags=bags[:2],
        at=at,
        override_physician="Dr. Ruiz (ICU)",
        override_reason="fluid-restricted, high dose wanted",
    )


def _refresh(dose, pharmacist, now, viable, **override):
    return services.record_refresh(
        dose,
        actor=pharmacist,
        thawed_at=now - hours(49),
        seeded_at=now - hours(48),
        harvested_at=now - hours(1),
        viable_cells=viable,
        viability_pct=Decimal("40.0"),
        volume_ml=Decimal("50.0"),
        at=now,
        **override,
    )


def test_allocation_override_does_not_cover_a_different_refreshed_viable_count(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    now = timezone.now()
    dose = _allocated_with_override(patient, pharmacist, bags, now - hours(50))
    assert dose.override_cells == 150_000_000
    with pytest.raises(AllocationError, match="approved 150.00×10⁶ cells, not this total"):
        _refresh(dose, pharmacist, now, 10_000_000)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ALLOCATED


def test_refreshed_count_out_of_range_takes_a_fresh_override_audited_as_override_prepare(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    now = timezone.now()
    dose = _allocated_with_override(patient, pharmacist, bags, now - hours(50))
    _refresh(
        dose,
        pharmacist,
        now,
        10_000_000,
        override_physician="Dr. Gómez (ICU)",
        override_reason="low yield after refresh; give what there is",
    )
    dose.refresh_from_db()
    assert dose.override_physician == "Dr. Gómez (ICU)"
    assert dose.override_cells == 10_000_000
    event = last_event(dose)
    assert event.action == "override_prepare"
    assert event.reason == "low yield after refresh; give what there is"


# --- M4: the batch is checked again at thaw, refresh and dispense --------------------------


def test_thaw_refused_when_the_batch_expired_after_allocation(patient, pharmacist):
    ProtocolFactory()
    today = timezone.localdate()
    released_batch_with_bags([75_000_000], expires_on=today)
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now)
    with pytest.raises(PreparationError, match="expired on .*Cancel the dose"):
        services.record_thaw(dose, actor=pharmacist, at=now + datetime.timedelta(days=2))


def test_dispense_refused_when_the_batch_expired_since_the_thaw(patient, pharmacist):
    ProtocolFactory()
    released_batch_with_bags([75_000_000], expires_on=timezone.localdate())
    # Thawed before midnight of the last valid day, dispensed after it.
    midnight = timezone.make_aware(
        datetime.datetime.combine(
            timezone.localdate() + datetime.timedelta(days=1), datetime.time(0, 0)
        )
    )
    thaw = midnight - 20 * MINUTES
    dose = allocated(patient, pharmacist, at=thaw - hours(1))
    services.record_thaw(dose, actor=pharmacist, thawed_at=thaw, at=thaw)
    with pytest.raises(PreparationError, match="expired on"):
        services.dispense_dose(dose, actor=pharmacist, at=midnight + 10 * MINUTES)


def test_thaw_refused_when_the_batch_is_no_longer_released(protocol, patient, stock, pharmacist):
    batch, _ = stock
    dose = allocated(patient, pharmacist)
    change_batch_record(batch, status=Batch.Status.QUARANTINE)
    with pytest.raises(PreparationError, match="not released"):
        services.record_thaw(dose, actor=pharmacist)


def test_thaw_and_dispense_refused_when_the_batch_changed_after_the_qp_signed(
    protocol, patient, stock, pharmacist
):
    batch, _ = stock
    dose = allocated(patient, pharmacist)
    change_batch_record(batch, passages=batch.passages + 1)
    with pytest.raises(PreparationError, match="Qualified Person to review the batch"):
        services.record_thaw(dose, actor=pharmacist)
    with pytest.raises(PreparationError, match="no longer matches"):
        services.record_refresh(
            dose,
            actor=pharmacist,
            thawed_at=timezone.now() - hours(30),
            seeded_at=timezone.now() - hours(29),
            harvested_at=timezone.now() - hours(1),
            viable_cells=78_000_000,
            viability_pct=Decimal("92.0"),
            volume_ml=Decimal("50.0"),
        )


def test_dispense_refused_when_the_batch_changed_after_the_qp_signed(
    protocol, patient, stock, pharmacist
):
    batch, _ = stock
    dose = allocated(patient, pharmacist)
    services.record_thaw(dose, actor=pharmacist)
    change_batch_record(batch, passages=batch.passages + 1)
    with pytest.raises(PreparationError, match="no longer matches"):
        services.dispense_dose(dose, actor=pharmacist)


def test_allocation_skips_and_refuses_a_batch_changed_after_the_qp_signed(
    protocol, patient, stock, pharmacist
):
    batch, bags = stock
    change_batch_record(batch, passages=batch.passages + 1)
    plan = services.plan_dose(patient, weight_kg=Decimal("78"), protocol=protocol)
    assert not plan.bags
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError):
        services.allocate_dose(dose, actor=pharmacist)
    with pytest.raises(AllocationError, match="no longer matches"):
        services.allocate_dose(dose, actor=pharmacist, bags=bags[:1])


def test_allocation_refuses_a_released_batch_without_a_qp_signature(protocol, patient, pharmacist):
    _, bags = released_batch_with_bags([75_000_000], signed=False)
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError, match="no QP release signature"):
        services.allocate_dose(dose, actor=pharmacist, bags=bags)


# --- M5: the first dose's batch can supply the course --------------------------------------


def test_first_dose_batch_is_one_that_can_supply_the_whole_course(patient, pharmacist, clinician):
    """FEFO alone picked a single-bag batch for dose 1, leaving no possible dose 2."""
    ProtocolFactory()
    released_batch_with_bags([75_000_000], expires_on=datetime.date(2090, 1, 1))
    whole, _ = released_batch_with_bags([75_000_000] * 4, expires_on=datetime.date(2099, 1, 1))
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(72))
    assert Dose.objects.get(number=1).batch == whole
    dose2 = services.order_dose(patient, actor=pharmacist)
    assert services.allocate_dose(dose2, actor=pharmacist).batch == whole


def test_first_dose_prefers_a_batch_that_outlasts_the_course(protocol, patient):
    released_batch_with_bags([75_000_000] * 3, expires_on=timezone.localdate())
    lasting, _ = released_batch_with_bags([75_000_000] * 3, expires_on=datetime.date(2099, 1, 1))
    plan = services.plan_dose(patient, weight_kg=Decimal("78"), protocol=protocol)
    assert plan.batch_code == lasting.code and not plan.warning


def test_first_dose_from_a_batch_short_of_the_course_is_proposed_with_a_warning(
    client, protocol, patient, pharmacist
):
    short, _ = released_batch_with_bags([75_000_000])
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    plan = page.context["plan"]
    assert plan.batch_code == short.code
    assert "give 1 of the 3 doses" in plan.warning
    assert "a later dose may not be possible" in page.content.decode()


def test_refusal_when_the_patients_batch_has_run_out_names_the_batch_and_what_to_do(
    patient, pharmacist, clinician
):
    ProtocolFactory()
    first, _ = released_batch_with_bags([75_000_000])
    released_batch_with_bags([75_000_000] * 2, expires_on=datetime.date(2099, 1, 2))
    dose1 = services.order_dose(patient, actor=pharmacist, at=timezone.now() - hours(72))
    services.allocate_dose(
        dose1,
        actor=pharmacist,
        bags=list(first.bags.all()),
        choice_reason="test: the single-bag batch",
        at=timezone.now() - hours(72),
    )
    services.record_thaw(dose1, actor=pharmacist, at=timezone.now() - hours(72) + 5 * MINUTES)
    services.dispense_dose(dose1, actor=pharmacist, at=timezone.now() - hours(72) + 6 * MINUTES)
    infuse(dose1, clinician, timezone.now() - hours(72) + 10 * MINUTES)
    dose2 = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError) as refusal:
        services.allocate_dose(dose2, actor=pharmacist)
    message = str(refusal.value)
    assert f"come from batch {first.code}" in message
    assert "Bags of another batch cannot be used" in message


# --- M6: recorded outcomes count -----------------------------------------------------------


def test_no_dose_ordered_for_a_patient_recorded_dead(
    protocol, patient, stock, pharmacist, clinician
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(72))
    record_outcome(
        patient,
        kind="death",
        occurred_on=timezone.localdate() - datetime.timedelta(days=1),
        actor=clinician,
    )
    with pytest.raises(OrderRefused, match="Not deceased"):
        services.order_dose(patient, actor=pharmacist)


@pytest.mark.parametrize("kind", ["extubation", "icu_discharge"])
def test_no_dose_ordered_after_extubation_or_icu_discharge(
    protocol, patient, stock, pharmacist, clinician, kind
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(72))
    record_outcome(patient, kind=kind, occurred_on=timezone.localdate(), actor=clinician)
    with pytest.raises(OrderRefused, match="Invasive mechanical ventilation in ICU"):
        services.order_dose(patient, actor=pharmacist)


def test_allocation_and_thaw_refused_for_a_patient_recorded_dead(
    protocol, stock, pharmacist, clinician
):
    ordered_patient, allocated_patient = PatientFactory(weight_kg=78), PatientFactory(weight_kg=70)
    ordered = services.order_dose(ordered_patient, actor=pharmacist)
    to_thaw = allocated(allocated_patient, pharmacist)
    for p in (ordered_patient, allocated_patient):
        record_outcome(p, kind="death", occurred_on=timezone.localdate(), actor=clinician)
    with pytest.raises(AllocationError, match="recorded as deceased"):
        services.allocate_dose(ordered, actor=pharmacist)
    with pytest.raises(PreparationError, match="recorded as deceased"):
        services.record_thaw(to_thaw, actor=pharmacist)


# --- minor ---------------------------------------------------------------------------------


def test_bags_chosen_by_hand_other_than_the_proposal_need_a_written_reason(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    proposal = services.plan_dose(patient, weight_kg=Decimal("78"), protocol=protocol)
    other = next(b for b in bags if b.code not in proposal.bag_codes and b.nominal_cells > 6e7)
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError, match="not the calculator's proposal") as refusal:
        services.allocate_dose(dose, actor=pharmacist, bags=[other])
    assert refusal.value.field == "choice_reason"
    services.allocate_dose(
        dose, actor=pharmacist, bags=[other], choice_reason="bag nearest the tank door"
    )
    assert "bag nearest the tank door" in last_event(dose).reason


def test_order_beyond_dose_3_is_a_clear_refusal_even_if_the_protocol_allows_more(
    patient, pharmacist, clinician
):
    ProtocolFactory(max_doses=4)
    released_batch_with_bags([75_000_000] * 4)
    first = timezone.now() - hours(200)
    for n in range(3):
        infused_thawed(patient, pharmacist, clinician, at=first + hours(72) * n)
    with pytest.raises(OrderRefused, match="numbered 1–3"):
        services.order_dose(patient, actor=pharmacist)


def test_protocol_allows_at_most_three_doses():
    with pytest.raises(ValidationError, match="max_doses"):
        Protocol(code="X", version=1, max_doses=4).clean_fields()


def test_infusion_end_in_the_future_refused(protocol, patient, stock, pharmacist, clinician):
    from tests.dosing.flow import dispensed_thawed

    dose = dispensed_thawed(patient, pharmacist)
    now = timezone.now()
    with pytest.raises(InfusionError, match="end time cannot be in the future") as refusal:
        services.record_infusion(
            dose,
            actor=clinician,
            started_at=now - 5 * MINUTES,
            ended_at=now + 30 * MINUTES,
            filter_confirmed=True,
            premedication_given="methylprednisolone",
            vitals=VITALS,
            at=now,
        )
    assert refusal.value.field == "ended_at"


def test_protocol_version_used_by_doses_is_read_only(
    admin_client, protocol, patient, stock, pharmacist
):
    page = admin_client.get(f"/admin/dosing/protocol/{protocol.pk}/change/")
    assert "min_interval_hours" not in page.context["adminform"].readonly_fields
    allocated(patient, pharmacist)
    page = admin_client.get(f"/admin/dosing/protocol/{protocol.pk}/change/")
    readonly = page.context["adminform"].readonly_fields
    assert "min_interval_hours" in readonly and "active" not in readonly
    assert "add a new version" in page.content.decode()
    protocol.refresh_from_db()
    protocol.min_interval_hours = 24
    with pytest.raises(ValidationError, match="Create a new version"):
        protocol.full_clean()
