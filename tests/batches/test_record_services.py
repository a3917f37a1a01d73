"""The writers of production and site records: create, correct, delete — each validated,
attributed on the trail with its reason, and refused with a message a user can act on."""

import datetime
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from batches import services
from batches.exceptions import BatchError, SpecificationInUseError
from batches.models import Batch, Donor, ReleaseSpecification, SpecificationItem, StorageLocation
from core.exceptions import DomainError
from sites import services as site_services
from sites.exceptions import FacilityError
from sites.models import Facility
from tests.factories import (
    BagFactory,
    FacilityFactory,
    HospitalFactory,
    ProcurementFactory,
    ReleaseSpecificationFactory,
    SerologyResultFactory,
    SpecificationItemFactory,
    StorageLocationFactory,
    make_release_ready_batch,
)

pytestmark = pytest.mark.django_db


def last_event(obj, action=None):
    events = AuditEvent.objects.filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).order_by("seq")
    if action:
        events = events.filter(action=action)
    return events.last()


@pytest.fixture
def decided(qp_user, password):
    """A batch a QP has released: its donor and specification are now closed records."""
    batch = make_release_ready_batch(expires_on=datetime.date(2099, 1, 1))
    return services.release_batch(batch, actor=qp_user, password=password)


DONOR = {
    "code": "ATD-700",
    "age_at_donation": 41,
    "sex": Donor.Sex.MALE,
    "consent_for_clinical_use": True,
    "consent_signed_on": datetime.date(2026, 3, 1),
}


# Donors -------------------------------------------------------------------------------


def test_create_donor_validates_and_attributes_the_creation(production_user):
    donor = services.create_donor(actor=production_user, reason="registered", **DONOR)
    event = last_event(donor, "create")
    assert (event.actor, event.reason) == (production_user, "registered")
    assert event.changes["code"] == [None, "ATD-700"]


def test_create_donor_refuses_an_invalid_donor_with_every_field_named(production_user):
    with pytest.raises(BatchError) as error:
        services.create_donor(actor=production_user, **{**DONOR, "age_at_donation": 12})
    assert "age_at_donation: Ensure this value is greater than or equal to 18." in (
        error.value.messages
    )
    assert not Donor.objects.exists()


def test_create_donor_refuses_a_field_that_is_not_the_donors(production_user):
    with pytest.raises(BatchError, match="These donor fields cannot be recorded: created_at"):
        services.create_donor(actor=production_user, created_at=None, **DONOR)


def test_delete_donor_refused_while_records_refer_to_it(production_user):
    serology = SerologyResultFactory()
    with pytest.raises(BatchError, match="still refer to it"):
        services.delete_donor(serology.donor, actor=production_user, reason="duplicate")
    assert Donor.objects.filter(pk=serology.donor_id).exists()


def test_delete_donor_registered_by_mistake_writes_the_reason(production_user):
    donor = services.create_donor(actor=production_user, **DONOR)
    services.delete_donor(donor, actor=production_user, reason="registered twice")
    event = last_event(donor)
    assert (event.action, event.reason) == ("delete", "registered twice")
    assert not Donor.objects.filter(pk=donor.pk).exists()


def test_a_deletion_needs_a_reason(production_user):
    donor = services.create_donor(actor=production_user, **DONOR)
    with pytest.raises(BatchError, match="Give the reason for deleting donor ATD-700"):
        services.delete_donor(donor, actor=production_user, reason=" ")


def test_serology_of_an_undecided_donor_is_deleted_with_its_reason(production_user):
    serology = SerologyResultFactory()
    services.delete_serology(serology, actor=production_user, reason="wrong donor's sample")
    event = last_event(serology)
    assert (event.action, event.actor, event.reason) == (
        "delete",
        production_user,
        "wrong donor's sample",
    )


def test_serology_of_a_decided_donor_is_never_deleted(production_user, decided):
    serology = decided.donor.serology.first()
    with pytest.raises(BatchError, match="a serology result is corrected .*never deleted"):
        services.delete_serology(serology, actor=production_user, reason="duplicate")
    assert decided.donor.serology.filter(pk=serology.pk).exists()


def test_procurement_of_a_decided_donor_is_never_deleted(production_user, decided):
    with pytest.raises(BatchError, match="a procurement record is corrected .*never deleted"):
        services.delete_procurement(decided.procurement, actor=production_user, reason="dup")


def test_procurement_a_batch_names_cannot_be_deleted(production_user):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    with pytest.raises(BatchError, match="still refer to it"):
        services.delete_procurement(batch.procurement, actor=production_user, reason="dup")


# Batches ------------------------------------------------------------------------------


def batch_fields(**changes):
    procurement = ProcurementFactory()
    return {
        "din": "E000126000901",
        "donor": procurement.donor,
        "procurement": procurement,
        "facility": FacilityFactory(fin="E0001"),
        "impd_reference": "PEI-15-103",
        "specification": ReleaseSpecificationFactory(),
        "population_doublings": Decimal("12.5"),
        "passages": 1,
        "cryopreserved_on": datetime.date(2026, 4, 1),
        "expires_on": datetime.date(2028, 4, 1),
        **changes,
    }


def test_create_batch_starts_in_production_with_its_check_character(production_user):
    batch = services.create_batch(actor=production_user, reason="new lot", **batch_fields())
    batch.refresh_from_db()
    assert batch.status == Batch.Status.IN_PRODUCTION
    assert len(batch.code) == 14
    event = last_event(batch, "create")
    assert (event.actor, event.reason) == (production_user, "new lot")


def test_create_batch_refuses_a_din_of_another_facility(production_user):
    with pytest.raises(BatchError, match="din: A DIN issued at .* starts with E0001"):
        services.create_batch(actor=production_user, **batch_fields(din="ESXYZ26000001"))
    assert not Batch.objects.exists()


def test_create_batch_never_takes_a_status(production_user):
    with pytest.raises(BatchError, match="cannot be recorded on a batch: status"):
        services.create_batch(actor=production_user, status="released", **batch_fields())


def test_batch_with_a_decision_is_never_deleted(production_user, decided):
    with pytest.raises(BatchError, match="never deleted"):
        services.delete_batch(decided, actor=production_user, reason="mistake")


# Specifications -----------------------------------------------------------------------


def test_create_specification_and_add_items_each_on_the_trail(production_user):
    spec = services.create_specification(
        actor=production_user,
        reason="v3 for the new IMPD",
        code="AT-MSC-REL",
        version=3,
        effective_from=datetime.date(2026, 1, 1),
    )
    item = services.add_specification_item(
        spec,
        actor=production_user,
        category="immunophenotype",
        parameter="CD73",
        kind="min",
        lower_limit=Decimal("95"),
        unit="%",
    )
    assert item.criterion == "≥ 95 %"
    assert last_event(spec, "create").reason == "v3 for the new IMPD"
    assert last_event(item, "create").actor == production_user


def test_an_item_without_its_limit_is_refused(production_user):
    spec = ReleaseSpecificationFactory()
    with pytest.raises(BatchError, match="spec_item_has_its_limit|Constraint"):
        services.add_specification_item(
            spec, actor=production_user, category="immunophenotype", parameter="CD73", kind="min"
        )
    assert not SpecificationItem.objects.exists()


def test_correct_specification_of_a_used_version_needs_a_reason(production_user, decided):
    spec = decided.specification
    with pytest.raises(DomainError, match="needs a written reason"):
        services.correct_specification(spec, actor=production_user, is_active=False)
    services.correct_specification(
        spec, actor=production_user, reason="superseded by v2", is_active=False
    )
    assert ReleaseSpecification.objects.get(pk=spec.pk).is_active is False
    assert last_event(spec).reason == "superseded by v2"


def test_an_item_of_a_used_version_is_neither_changed_nor_deleted(production_user, decided):
    item = decided.specification.items.get(parameter="CD73")
    with pytest.raises(SpecificationInUseError, match="its items cannot be changed"):
        services.correct_specification_item(
            item, actor=production_user, reason="typo", lower_limit=Decimal("90")
        )
    with pytest.raises(SpecificationInUseError, match="its items cannot be deleted"):
        services.delete_specification_item(item, actor=production_user, reason="typo")
    assert SpecificationItem.objects.get(pk=item.pk).lower_limit == Decimal("95")


def test_an_unused_item_without_results_is_deleted_with_its_reason(production_user):
    item = SpecificationItemFactory()
    services.delete_specification_item(item, actor=production_user, reason="added twice")
    assert last_event(item).reason == "added twice"


# Storage locations and facilities ------------------------------------------------------


def test_storage_location_created_corrected_and_deleted_on_the_trail(production_user):
    location = services.create_storage_location(
        actor=production_user,
        facility=FacilityFactory(),
        tank="LN2-9",
        rack="R1",
        box="B1",
        position="1",
    )
    location = services.correct_storage_location(
        location, actor=production_user, reason="rack label read wrong", rack="R2"
    )
    assert str(location) == "LN2-9/R2/B1/1"
    assert last_event(location).changes["rack"] == ["R1", "R2"]
    services.delete_storage_location(location, actor=production_user, reason="not a position")
    assert not StorageLocation.objects.filter(pk=location.pk).exists()


def test_a_storage_position_is_unique_at_its_site_and_free_at_another(production_user):
    taken = StorageLocationFactory(tank="T1", rack="R1", box="B1", position="1")
    position = {"tank": "T1", "rack": "R1", "box": "B1", "position": "1"}
    with pytest.raises(BatchError, match="already exists"):
        services.create_storage_location(
            actor=production_user, facility=taken.facility, **position
        )
    other_facility = services.create_storage_location(
        actor=production_user, facility=FacilityFactory(fin="ESNAV"), **position
    )
    hospital = services.create_storage_location(
        actor=production_user, hospital=HospitalFactory(), **position
    )
    assert {other_facility.site, hospital.site, taken.site} == {
        other_facility.facility,
        hospital.hospital,
        taken.facility,
    }


def test_a_storage_position_belongs_to_exactly_one_site(production_user):
    with pytest.raises(BatchError, match="one facility or hospital"):
        services.create_storage_location(
            actor=production_user, tank="T1", rack="R1", box="B1", position="1"
        )


def test_an_occupied_storage_position_is_not_deleted(production_user):
    bag = BagFactory()
    with pytest.raises(BatchError, match="still refer to it"):
        services.delete_storage_location(bag.location, actor=production_user, reason="x")


def test_facility_created_and_corrected_through_the_sites_service(production_user):
    facility = site_services.create_facility(
        actor=production_user, reason="new site", fin="ESBCN", name="Hospital Clínic"
    )
    site_services.correct_facility(
        facility, actor=production_user, reason="official name", name="Hospital Clínic BCN"
    )
    facility.refresh_from_db()
    assert facility.name == "Hospital Clínic BCN"
    created, corrected = AuditEvent.objects.filter(
        object_type="sites.facility", object_id=str(facility.pk)
    ).order_by("seq")
    assert (created.action, created.reason) == ("create", "new site")
    assert (corrected.actor, corrected.reason) == (production_user, "official name")


def test_facility_refusals_name_the_problem(production_user):
    FacilityFactory(fin="ESBCN")
    with pytest.raises(FacilityError, match="fin: Facility with this Facility identification"):
        site_services.create_facility(actor=production_user, fin="ESBCN", name="Other")
    with pytest.raises(FacilityError, match="do not exist: city"):
        site_services.create_facility(actor=production_user, fin="ESMAD", name="X", city="M")


def test_a_facility_a_batch_was_made_in_is_not_deleted(production_user):
    batch = make_release_ready_batch(bags=0)
    with pytest.raises(FacilityError, match="cannot be deleted: .*batches.* refer to it"):
        site_services.delete_facility(batch.facility, actor=production_user, reason="closed")
    assert Facility.objects.filter(pk=batch.facility_id).exists()
