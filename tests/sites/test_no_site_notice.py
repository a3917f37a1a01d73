"""A user with a role and no site sees nothing of that role's work, and the page says why."""

import pytest
from django.contrib.auth.models import Group, User
from django.utils.html import escape

from sites.context_processors import NO_SITE_NOTICE
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def _without_site(group: str) -> User:
    user = User.objects.create_user(f"{group}-nowhere", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_a_pharmacist_without_a_site_sees_no_patient_and_is_told_why(client):
    PatientFactory()
    client.force_login(_without_site("pharmacy"))
    page = client.get("/pharmacy/patients/")
    assert page.status_code == 200
    assert page.context["rows"] == [] or len(page.context["rows"]) == 0
    assert escape(NO_SITE_NOTICE) in page.content.decode()


def test_production_without_a_site_is_told_why_in_the_admin(client):
    client.force_login(_without_site("production"))
    page = client.get("/admin/batches/batch/")
    assert page.status_code == 200
    assert escape(NO_SITE_NOTICE) in page.content.decode()


def test_a_member_of_a_site_sees_no_such_notice(client, pharmacist):
    client.force_login(pharmacist)
    assert escape(NO_SITE_NOTICE) not in client.get("/pharmacy/patients/").content.decode()
