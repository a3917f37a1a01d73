"""Read paths over site records (no writes here): what a user may see of them.

Every read goes through `Facility.objects.for_user(user)` (`core.querysets`): the role's
view permission today; the network narrows `scoped_to` to the user's own sites.
"""

from __future__ import annotations

from audit.audited import AuditedQuerySet


class FacilityQuerySet(AuditedQuerySet):
    def scoped_to(self, user) -> FacilityQuerySet:
        """The facilities of the user's sites. Every role sees every facility today; the
        network (memberships of sites) narrows this to the user's own."""
        return self


class HospitalQuerySet(AuditedQuerySet):
    def scoped_to(self, user) -> HospitalQuerySet:
        """The hospitals of the user's sites (narrowed by the network's scoping)."""
        return self


class MembershipQuerySet(AuditedQuerySet):
    def scoped_to(self, user) -> MembershipQuerySet:
        return self
