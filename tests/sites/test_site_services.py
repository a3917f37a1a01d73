"""Hospitals and memberships change only through `sites.services`, on the audit trail."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from sites import services
from sites.exceptions import FacilityError
from sites.models import Hospital, Membership
from sites.scope import site_scope
from tests.factories import FacilityFactory, HospitalFactory, PatientFactory

pytestmark = pytest.mark.django_db

FJD = {"code": "FJD", "name": "Fundación Jiménez Díaz", "patient_code_prefix": "FJD"}


def test_a_hospital_is_created_on_the_trail_and_refused_with_an_unknown_time_zone(pharmacist):
    hospital = services.create_hospital(actor=pharmacist, reason="joins the network", **FJD)
    event = AuditEvent.objects.for_object(hospital).get()
    assert (event.action, event.actor, event.reason) == ("create", pharmacist, "joins the network")

    with pytest.raises(FacilityError, match="not a time zone"):
        services.create_hospital(
            actor=pharmacist,
            code="HGM",
            name="x",
            patient_code_prefix="HGM",
            time_zone="Mars/Olympus",
        )
    assert not Hospital.objects.filter(code="HGM").exists()


def test_a_hospital_with_patients_is_not_deleted_and_says_what_refers_to_it(pharmacist):
    patient = PatientFactory()
    with pytest.raises(FacilityError, match=r"cannot be deleted: .*patients.* refer to it"):
        services.delete_hospital(patient.hospital, actor=pharmacist, reason="mistake")
    assert Hospital.objects.filter(pk=patient.hospital_id).exists()


def test_a_membership_is_one_site_on_the_trail_and_changes_what_the_user_sees(outsider):
    facility, hospital = FacilityFactory(), HospitalFactory()
    assert site_scope(outsider).empty
    with pytest.raises(FacilityError, match="one facility, one hospital, or the whole network"):
        services.add_membership(outsider, facility=facility, hospital=hospital, actor=None)
    assert not Membership.objects.exists()

    membership = services.add_membership(outsider, hospital=hospital, actor=None, reason="joins")
    assert services.add_membership(outsider, hospital=hospital, actor=None) == membership
    assert site_scope(outsider).hospital_ids == {hospital.pk}
    assert AuditEvent.objects.for_object(membership).get().reason == "joins"

    services.remove_membership(membership, actor=None, reason="left the hospital")
    assert site_scope(outsider).empty


def test_an_administrator_adds_a_hospital_in_the_admin(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:sites_hospital_add"),
        {**FJD, "time_zone": "Europe/Madrid", "notification_email": "", "change_reason": "new"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    hospital = Hospital.objects.get(code="FJD")
    assert AuditEvent.objects.for_object(hospital).get().actor == admin_user
