"""The demo's logins: the plain role names at Salamanca, the auditor network-wide, and
`<role>-<site>` for every other site, each a member of exactly its own site."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from sites.models import Membership

pytestmark = pytest.mark.django_db


def _site_code(membership) -> str:
    if membership.network_wide:
        return "network"
    return membership.hospital.code if membership.hospital else membership.facility.fin


def _sites(username):
    memberships = Membership.objects.filter(user__username=username)
    return sorted(_site_code(m) for m in memberships.select_related("hospital", "facility"))


def test_every_site_has_its_logins_and_the_plain_auditor_is_the_networks():
    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert _sites("auditor") == ["network"]
    assert _sites("auditor-hus") == ["HUS"]
    assert _sites("pharmacy") == ["HUS"] and _sites("clinician") == ["HUS"]
    assert _sites("production") == ["ESSAL"] and _sites("qp") == ["ESSAL"]
    for hospital in ("CUN", "FJD", "HGM"):
        for role in ("pharmacy", "clinician", "auditor"):
            assert _sites(f"{role}-{hospital.lower()}") == [hospital]
    for facility in ("ESNAV", "ESMAR"):
        for role in ("production", "qp"):
            assert _sites(f"{role}-{facility.lower()}") == [facility]
    printed = out.getvalue()
    assert all(user.username in printed for user in User.objects.filter(groups__isnull=False))
