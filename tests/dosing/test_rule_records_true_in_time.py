"""Records are true in time (dosing and custody): recent weight and assessment, a refresh
whose count and viability can be true, thaw → seed → harvest → infusion in order, an
adverse event after its dose, a reservation after the bag became available."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from batches.exceptions import BagTransitionError
from batches.models import BagEvent, SpecificationItem
from dosing import services
from dosing.exceptions import AdverseEventError, OrderRefused, PreparationError
from dosing.models import Dose, Preparation
from tests.dosing.flow import allocated, hours, infused_thawed
from tests.factories import PatientFactory, SpecificationItemFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def test_dose_1_on_an_assessment_older_than_the_protocol_allows_is_refused(
    protocol, stock, pharmacist
):
    patient = PatientFactory(assessment={"assessed_on": TODAY - datetime.timedelta(days=2)})
    with pytest.raises(OrderRefused, match="orders dose 1 on an assessment of its day"):
        services.order_dose(patient, actor=pharmacist)

    recent = PatientFactory(assessment={"assessed_on": TODAY - datetime.timedelta(days=1)})
    assert services.order_dose(recent, actor=pharmacist).number == 1


def test_dose_planned_for_2999_is_refused_on_today_s_assessment(protocol, patient, pharmacist):
    far = timezone.make_aware(datetime.datetime(2999, 12, 31, 10))
    with pytest.raises(OrderRefused, match="assessment"):
        services.order_dose(patient, actor=pharmacist, planned_for=far)
    assert not Dose.objects.exists()


def test_dose_planned_before_the_programme_start_is_refused(protocol, patient, pharmacist):
    old = timezone.make_aware(datetime.datetime(2000, 1, 1, 10))
    with pytest.raises(OrderRefused, match="cannot be before") as excinfo:
        services.order_dose(patient, actor=pharmacist, planned_for=old)
    assert excinfo.value.field == "planned_for"


def test_dose_calculated_from_a_weight_older_than_the_protocol_allows_is_refused(
    protocol, stock, pharmacist
):
    patient = PatientFactory(weight_kg=False)
    from tests.factories.patients import WeightMeasurementFactory

    WeightMeasurementFactory(patient=patient, measured_on=TODAY - datetime.timedelta(days=8))
    with pytest.raises(OrderRefused, match="a weight of the last 7 days"):
        services.order_dose(patient, actor=pharmacist)
    WeightMeasurementFactory(patient=patient, measured_on=TODAY - datetime.timedelta(days=7))
    assert services.order_dose(patient, actor=pharmacist).weight_kg


def _refresh(dose, pharmacist, now, *, viable=76_000_000, viability="94.0", thawed=None):
    return services.record_refresh(
        dose,
        actor=pharmacist,
        thawed_at=thawed or now - hours(49),
        seeded_at=now - hours(48),
        harvested_at=now - hours(1),
        viable_cells=viable,
        viability_pct=Decimal(viability),
        volume_ml=Decimal("50.0"),
        at=now,
    )


def test_refreshed_count_above_the_bags_times_the_expansion_factor_is_refused(
    protocol, patient, stock, pharmacist
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))  # one bag of 75 ×10⁶
    with pytest.raises(PreparationError, match="at most 4.0× growth") as excinfo:
        _refresh(dose, pharmacist, now, viable=301_000_000)
    assert excinfo.value.field == "viable_cells"
    assert not Preparation.objects.exists()


def test_refreshed_count_typed_in_the_wrong_unit_is_refused_not_offered_an_override(
    protocol, patient, stock, pharmacist
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))
    with pytest.raises(PreparationError, match="less than a hundredth"):
        _refresh(dose, pharmacist, now, viable=76)


def test_refresh_with_viability_below_the_specification_limit_is_refused(
    protocol, patient, stock, pharmacist
):
    batch, _ = stock
    SpecificationItemFactory(
        specification=batch.specification,
        category=SpecificationItem.Category.VIABILITY,
        parameter="Viability",
        lower_limit=Decimal("70"),
    )
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))
    with pytest.raises(PreparationError, match="below the release specification's limit of 70"):
        _refresh(dose, pharmacist, now, viability="65.0")
    with pytest.raises(PreparationError, match="above 0 and at most 100"):
        _refresh(dose, pharmacist, now, viability="0")


def test_thaw_before_the_bags_were_reserved_is_refused(protocol, patient, stock, pharmacist):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(2))
    with pytest.raises(PreparationError, match="cannot have been thawed before"):
        services.record_thaw(dose, actor=pharmacist, thawed_at=now - hours(3), at=now)
    with pytest.raises(PreparationError, match="cannot have been thawed before"):
        _refresh(dose, pharmacist, now, thawed=now - hours(200))


def test_adverse_event_onset_before_the_dose_s_infusion_is_refused(
    protocol, patient, stock, pharmacist, clinician
):
    dose = infused_thawed(patient, pharmacist, clinician)
    with pytest.raises(AdverseEventError, match="cannot precede the infusion") as excinfo:
        services.report_adverse_event(
            patient,
            actor=clinician,
            dose=dose,
            onset_at=dose.infusion.started_at - hours(5),
            description="Fever",
            ctcae_grade=1,
            serious=False,
            outcome="recovered",
            causality="possible",
        )
    assert excinfo.value.field == "onset_at"


def test_reservation_before_the_bag_became_available_is_refused(
    protocol, patient, stock, pharmacist, system_context
):
    _, bags = stock
    now = timezone.now()
    for bag in bags:
        BagEvent.objects.create(
            bag=bag, from_status="quarantine", to_status="available", occurred_at=now
        )
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(BagTransitionError, match="it cannot be reserved earlier"):
        services.allocate_dose(dose, actor=pharmacist, at=now - hours(1))
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ORDERED
