"""Factories for the network's sites: hospitals (facilities are in `batches` for history)
and users' memberships of sites."""

import factory

from sites.models import Hospital, Membership
from tests.factories.base import AuditedFactory

__all__ = ["HospitalFactory", "MembershipFactory"]


class HospitalFactory(AuditedFactory):
    """The default hospital is the series' first, Salamanca's (code HUS, patients TST-…)."""

    class Meta:
        model = Hospital
        django_get_or_create = ("code",)

    code = "HUS"
    name = "Hospital Universitario de Salamanca"
    patient_code_prefix = factory.LazyAttribute(lambda o: "TST" if o.code == "HUS" else o.code)
    time_zone = "Europe/Madrid"
    notification_email = factory.LazyAttribute(lambda o: f"pharmacy@{o.code.lower()}.example")


class MembershipFactory(AuditedFactory):
    class Meta:
        model = Membership
