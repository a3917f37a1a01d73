"""Factories for the network's sites: hospitals (facilities are in `batches` for history)
and users' memberships of sites."""

import factory

from sites.models import Facility, Hospital, Membership
from sites.scope import forget_site_scope
from tests.factories.base import AuditedFactory

__all__ = ["HospitalFactory", "MembershipFactory", "site_member"]


class HospitalFactory(AuditedFactory):
    """The default hospital is the series' first, Salamanca's (code HUS, patients SAL-…)."""

    class Meta:
        model = Hospital
        django_get_or_create = ("code",)

    code = "HUS"
    name = "Hospital Universitario de Salamanca"
    patient_code_prefix = factory.LazyAttribute(lambda o: "SAL" if o.code == "HUS" else o.code)
    time_zone = "Europe/Madrid"
    notification_email = factory.LazyAttribute(lambda o: f"pharmacy@{o.code.lower()}.example")


class MembershipFactory(AuditedFactory):
    class Meta:
        model = Membership


def site_member(user, site) -> Membership:
    """Make `user` a member of `site`: a Facility, a Hospital, or "network" (auditors)."""
    if site == "network":
        membership = MembershipFactory(user=user, network_wide=True)
    elif isinstance(site, Facility):
        membership = MembershipFactory(user=user, facility=site)
    elif isinstance(site, Hospital):
        membership = MembershipFactory(user=user, hospital=site)
    else:
        raise TypeError(f"Not a site: {site!r}")
    forget_site_scope(user)
    return membership
