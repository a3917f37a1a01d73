"""An administrator assigns users to sites in the admin; the trail says who and why."""

import pytest
from django.contrib.auth.models import User

from audit.models import AuditEvent
from sites.models import Membership
from tests.conftest import _default_hospital
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(db):
    return User.objects.create_superuser("admin1", password="x")


def test_an_administrator_adds_a_pharmacist_to_a_hospital_and_removes_them(
    client, administrator, make_role_user
):
    hospital = _default_hospital()
    PatientFactory(code="SAL-P42", hospital=hospital)
    newcomer = make_role_user("pharm-new", "pharmacy", None)
    assert not Membership.objects.filter(user=newcomer).exists()
    client.force_login(administrator)

    response = client.post(
        "/admin/sites/membership/add/",
        {"user": newcomer.pk, "hospital": hospital.pk, "facility": "", "change_reason": "joined"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    membership = Membership.objects.get(user=newcomer)
    assert membership.hospital == hospital
    assert AuditEvent.objects.for_object(membership).get().actor == administrator

    newcomer = User.objects.get(pk=newcomer.pk)
    client.force_login(newcomer)
    assert "SAL-P42" in client.get("/pharmacy/patients/").content.decode()

    client.force_login(administrator)
    response = client.post(
        f"/admin/sites/membership/{membership.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()
    newcomer = User.objects.get(pk=newcomer.pk)
    client.force_login(newcomer)
    assert "SAL-P42" not in client.get("/pharmacy/patients/").content.decode()


def test_a_membership_of_two_sites_at_once_is_refused_with_a_message(
    client, administrator, make_role_user, second_facility
):
    newcomer = make_role_user("pharm-two", "pharmacy", None)
    client.force_login(administrator)
    response = client.post(
        "/admin/sites/membership/add/",
        {
            "user": newcomer.pk,
            "hospital": _default_hospital().pk,
            "facility": second_facility.pk,
            "change_reason": "both",
        },
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()


def test_no_role_may_open_the_memberships(client, production_user):
    client.force_login(production_user)
    assert client.get("/admin/sites/membership/").status_code == 403
