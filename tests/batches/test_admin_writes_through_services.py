"""The production and site admin writes only through the services.

Django's own writers (`ModelAdmin.save_model`, `save_formset`, `delete_model`,
`delete_queryset`) are made to explode: every page still saves, and each write is on
the trail with the user and the reason typed. A service that refuses leaves nothing
written and its message on the page.
"""

import datetime

import pytest
from django.contrib import admin
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.admin import AuditedAdmin, AuditedInline, ReadOnlyAdmin, ReadOnlyInline
from audit.audited import AuditedModel
from audit.models import AuditEvent
from batches import services
from batches.exceptions import BatchError
from batches.models import (
    Bag,
    BagEvent,
    Batch,
    Donor,
    Procurement,
    ReleaseCheck,
    ReleaseSpecification,
    SerologyResult,
    StorageLocation,
)
from sites import services as site_services
from sites.models import Facility
from tests.factories import (
    BagFactory,
    FacilityFactory,
    ProcurementFactory,
    ReleaseSpecificationFactory,
    SerologyResultFactory,
    StorageLocationFactory,
    make_release_ready_batch,
)

pytestmark = pytest.mark.django_db


def management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def event_of(model, action):
    return AuditEvent.objects.filter(object_type=model._meta.label_lower, action=action).last()


@pytest.fixture
def no_direct_writes(monkeypatch):
    """Django's ModelAdmin writers, which save the form's object themselves, explode."""

    def direct_write(*args, **kwargs):
        raise AssertionError("the admin wrote a regulated record itself")

    for name in ("save_model", "save_formset", "delete_model", "delete_queryset"):
        monkeypatch.setattr(admin.ModelAdmin, name, direct_write)


@pytest.fixture
def production(client, production_user, no_direct_writes):
    client.force_login(production_user)
    return client


@pytest.fixture
def superuser(client, admin_user, no_direct_writes):
    client.force_login(admin_user)
    return client


def refusing(message="refused by the service"):
    def refuse(*args, **kwargs):
        raise BatchError(message)

    return refuse


# What every admin of a regulated record is built from --------------------------------


def test_every_admin_of_a_production_or_site_record_writes_through_its_services():
    audited = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if issubclass(model, AuditedModel) and model._meta.app_label in {"batches", "sites"}
    }
    assert Donor in audited and Facility in audited
    for model, model_admin in audited.items():
        assert isinstance(model_admin, AuditedAdmin | ReadOnlyAdmin), model
        for writer in ("save_model", "save_formset", "delete_model", "delete_queryset"):
            if isinstance(model_admin, AuditedAdmin):
                assert getattr(type(model_admin), writer) is getattr(AuditedAdmin, writer), (
                    f"{type(model_admin).__name__}.{writer} overrides the service path"
                )
        for inline in model_admin.inlines:
            assert issubclass(inline, AuditedInline | ReadOnlyInline), inline


# Adds and changes ---------------------------------------------------------------------


def test_donor_and_its_rows_are_added_through_the_services(production, production_user):
    data = {
        "code": "ATD-950",
        "facility": str(FacilityFactory(fin="E0001").pk),
        "age_at_donation": "37",
        "sex": "F",
        "consent_for_clinical_use": "on",
        "consent_signed_on": "2026-03-01",
        "change_reason": "new donor, consent on file",
        **management("serology", total=1),
        "serology-0-test": "HIV",
        "serology-0-result": "negative",
        "serology-0-sampled_on": "2026-03-02",
        **management("procurements", total=1),
        "procurements-0-procured_on": "2026-03-02",
        "procurements-0-site": "Hospital X, Plastic Surgery",
        "procurements-0-lipoaspirate_volume_ml": "100",
        "procurements-0-fat_weight_g": "50",
        "procurements-0-performed_by": "S-1",
    }
    response = production.post(reverse("admin:batches_donor_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert any("ATD-950" in m for m in messages_of(response))
    for model in (Donor, SerologyResult, Procurement):
        event = event_of(model, "create")
        assert (event.actor, event.reason) == (production_user, "new donor, consent on file")


def test_a_refused_donor_is_not_written_and_the_page_says_why(production, monkeypatch):
    monkeypatch.setattr(services, "create_donor", refusing("Donor code taken elsewhere."))
    response = production.post(
        reverse("admin:batches_donor_add"),
        {
            "code": "ATD-951",
            "facility": str(FacilityFactory(fin="E0001").pk),
            "age_at_donation": "37",
            "sex": "F",
            "change_reason": "",
            **management("serology"),
            **management("procurements"),
        },
    )
    assert response.status_code == 302
    assert "Donor code taken elsewhere." in messages_of(response)
    assert not Donor.objects.exists()
    assert not AuditEvent.objects.filter(object_type="batches.donor").exists()


def test_batch_is_added_through_create_batch(production, production_user):
    facility = FacilityFactory(fin="E0001")  # the production user's own
    procurement = ProcurementFactory()
    spec = ReleaseSpecificationFactory()
    data = {
        "din": "E000126000017",
        "donor": procurement.donor.pk,
        "procurement": procurement.pk,
        "facility": facility.pk,
        "impd_reference": "PEI-15-103",
        "specification": spec.pk,
        "population_doublings": "12",
        "passages": "1",
        "cryopreserved_on": "2026-04-01",
        "expires_on": "2028-04-01",
        "viability_pct": "91",
        "change_reason": "lot 17 started",
        **management("checks"),
        **management("bags"),
    }
    response = production.post(reverse("admin:batches_batch_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    batch = Batch.objects.get(din="E000126000017")
    # The admin's message names the batch as stored, check character included.
    assert any(batch.code in m for m in messages_of(response))
    event = event_of(Batch, "create")
    assert (event.actor, event.reason) == (production_user, "lot 17 started")


def test_specification_and_its_items_are_added_through_the_services(production):
    data = {
        "code": "AT-MSC-REL",
        "version": "7",
        "effective_from": "2026-01-01",
        "is_active": "on",
        "notes": "",
        "change_reason": "v7 for the new IMPD",
        **management("items", total=1),
        "items-0-category": "immunophenotype",
        "items-0-parameter": "CD73",
        "items-0-kind": "min",
        "items-0-lower_limit": "95",
        "items-0-unit": "%",
        "items-0-required": "on",
    }
    response = production.post(reverse("admin:batches_releasespecification_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    spec = ReleaseSpecification.objects.get(version=7)
    assert spec.items.get().criterion == "≥ 95 %"
    assert event_of(ReleaseSpecification, "create").reason == "v7 for the new IMPD"
    assert event_of(spec.items.model, "create").reason == "v7 for the new IMPD"


def test_storage_location_and_facility_are_added_through_their_services(
    production, production_user
):
    facility = FacilityFactory(fin="E0001")  # the production user's own
    response = production.post(
        reverse("admin:batches_storagelocation_add"),
        {
            "facility": facility.pk,
            "tank": "LN2-9",
            "rack": "R1",
            "box": "B1",
            "position": "1",
            "change_reason": "new",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert StorageLocation.objects.filter(tank="LN2-9").exists()
    assert event_of(StorageLocation, "create").actor == production_user

    response = production.post(
        reverse("admin:sites_facility_add"),
        {
            "fin": "ESBCN",
            "name": "Hospital Clínic",
            "authorisation_ref": "",
            "time_zone": "Europe/Madrid",
            "change_reason": "x",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    event = event_of(Facility, "create")
    assert (event.actor, event.reason) == (production_user, "x")


def test_a_refused_facility_change_is_not_written(production, monkeypatch):
    facility = FacilityFactory(fin="E0001")  # the production user's own
    old_name = facility.name
    monkeypatch.setattr(site_services, "correct_facility", refusing("No, not today."))
    response = production.post(
        reverse("admin:sites_facility_change", args=[facility.pk]),
        {
            "fin": "E0001",
            "name": "New name",
            "authorisation_ref": "",
            "time_zone": "Europe/Madrid",
            "change_reason": "",
        },
    )
    assert "No, not today." in messages_of(response)
    assert Facility.objects.get(pk=facility.pk).name == old_name


# A bag's move in storage is a custody step --------------------------------------------


def bag_form(bag, location, reason=""):
    return {"location": str(location.pk), "change_reason": reason, **management("events")}


def test_moving_a_bag_in_the_admin_writes_its_custody_event(production, production_user):
    bag = BagFactory(status=Bag.Status.AVAILABLE)
    old, new = str(bag.location), StorageLocationFactory(tank="T9")
    response = production.post(
        reverse("admin:batches_bag_change", args=[bag.pk]), bag_form(bag, new, "box B2")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    bag.refresh_from_db()
    assert bag.location == new
    event = BagEvent.objects.get(bag=bag)
    assert (event.from_status, event.to_status) == (Bag.Status.AVAILABLE, Bag.Status.AVAILABLE)
    assert (event.actor, event.location) == (production_user, old)
    assert event.note == f"moved in storage from {old} to {new}"
    audit = event_of(Bag, "bag_moved")
    assert (audit.actor, audit.reason) == (production_user, "box B2")


def test_a_refused_bag_move_leaves_the_bag_where_it_was(production, monkeypatch):
    bag = BagFactory(status=Bag.Status.AVAILABLE)
    where = bag.location_id
    monkeypatch.setattr(services, "relocate_bag", refusing("Tank T9 is being defrosted."))
    response = production.post(
        reverse("admin:batches_bag_change", args=[bag.pk]),
        bag_form(bag, StorageLocationFactory(tank="T9")),
    )
    assert "Tank T9 is being defrosted." in messages_of(response)
    assert Bag.objects.get(pk=bag.pk).location_id == where
    assert not BagEvent.objects.filter(bag=bag).exists()


# Deletes: through a service that refuses what the rule forbids -------------------------


def test_deleting_a_check_goes_through_delete_check(superuser, admin_user):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION, bags=0)
    first = batch.checks.order_by("item").first()
    response = superuser.post(
        reverse("admin:batches_releasecheck_delete", args=[first.pk]), {"post": "yes"}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not ReleaseCheck.objects.filter(pk=first.pk).exists()
    event = event_of(ReleaseCheck, "delete")
    assert (event.actor, event.reason, event.object_id) == (
        admin_user,
        "deleted in the admin",
        str(first.pk),
    )


def test_a_refused_check_deletion_deletes_nothing(superuser, monkeypatch):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION, bags=0)
    monkeypatch.setattr(services, "delete_check", refusing("Keep it: the QP asked."))
    first = batch.checks.order_by("item").first()
    response = superuser.post(
        reverse("admin:batches_releasecheck_delete", args=[first.pk]), {"post": "yes"}
    )
    assert "Keep it: the QP asked." in messages_of(response)
    assert batch.checks.count() == 5


def test_a_serology_row_deleted_on_the_donor_page_is_on_the_trail(superuser, admin_user):
    result = SerologyResultFactory()
    donor = result.donor
    data = {
        "code": donor.code,
        "age_at_donation": str(donor.age_at_donation),
        "sex": donor.sex,
        "consent_for_clinical_use": "on",
        "consent_signed_on": str(donor.consent_signed_on),
        "change_reason": "sample of another donor",
        **management("serology", total=1, initial=1),
        "serology-0-id": str(result.pk),
        "serology-0-donor": str(donor.pk),
        "serology-0-test": result.test,
        "serology-0-result": result.result,
        "serology-0-sampled_on": str(result.sampled_on),
        "serology-0-DELETE": "on",
        **management("procurements"),
    }
    response = superuser.post(reverse("admin:batches_donor_change", args=[donor.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert not SerologyResult.objects.filter(pk=result.pk).exists()
    event = event_of(SerologyResult, "delete")
    assert (event.actor, event.reason) == (admin_user, "sample of another donor")


def test_the_delete_page_deletes_through_the_service_with_the_admins_reason(superuser):
    location = StorageLocationFactory()
    response = superuser.post(
        reverse("admin:batches_storagelocation_delete", args=[location.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not StorageLocation.objects.filter(pk=location.pk).exists()
    assert event_of(StorageLocation, "delete").reason == "deleted in the admin"


def test_a_refusal_on_the_delete_page_is_a_message_not_an_error_page(superuser, monkeypatch):
    location = StorageLocationFactory()
    monkeypatch.setattr(services, "delete_storage_location", refusing("A bag is on its way."))
    response = superuser.post(
        reverse("admin:batches_storagelocation_delete", args=[location.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert "A bag is on its way." in messages_of(response)
    assert StorageLocation.objects.filter(pk=location.pk).exists()


def test_delete_selected_is_all_or_nothing_through_the_service(superuser, monkeypatch):
    first, second = StorageLocationFactory(), StorageLocationFactory()
    real = services.delete_storage_location

    def refuse_second(location, **kwargs):
        if location.pk == second.pk:
            raise BatchError("Position in use by a pending move.")
        return real(location, **kwargs)

    monkeypatch.setattr(services, "delete_storage_location", refuse_second)
    response = superuser.post(
        reverse("admin:batches_storagelocation_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert "Position in use by a pending move." in messages_of(response)
    assert StorageLocation.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    # Nor does the admin's own log claim a deletion.
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    assert not AuditEvent.objects.filter(action="delete").exists()


def test_a_record_a_qp_has_decided_on_offers_no_delete(superuser, qp_user, password):
    batch = make_release_ready_batch(expires_on=datetime.date(2099, 1, 1))
    services.release_batch(batch, actor=qp_user, password=password)
    response = superuser.post(
        reverse("admin:batches_batch_delete", args=[batch.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Batch.objects.filter(pk=batch.pk).exists()
