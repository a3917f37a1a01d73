"""Read paths over site records (no writes here): what a user may see of them.

`SiteScopedQuerySet` is the base of every site-bound record's queryset in the apps above:
`scoped_to(user)` asks `sites.scope.site_scope(user)` once (cached on the user) and hands
the scope to the queryset's `within(scope)`, which names the record's own path to a site
(`docs/permissions.md`, "Sites"). Network-wide readers (auditors of the whole network,
superusers) skip `within`; a user of no site gets nothing.
"""

from __future__ import annotations

from django.db.models import Q

from audit.audited import AuditedQuerySet
from sites.scope import SiteScope, site_scope


class SiteScopedQuerySet(AuditedQuerySet):
    def scoped_to(self, user):
        scope = site_scope(user)
        if scope.network_wide:
            return self
        if scope.empty:
            return self.none()
        return self.within(scope)

    def within(self, scope: SiteScope):
        """The rows of `scope`'s sites. The default keeps every row: a record shared by
        the whole network (a release specification, the dosing protocol)."""
        return self


class FacilityQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> FacilityQuerySet:
        return self.filter(pk__in=scope.facility_ids)


class HospitalQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> HospitalQuerySet:
        return self.filter(pk__in=scope.hospital_ids)


class MembershipQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> MembershipQuerySet:
        """The memberships of the reader's sites (network-wide ones only network-wide)."""
        return self.filter(
            Q(facility_id__in=scope.facility_ids) | Q(hospital_id__in=scope.hospital_ids)
        )
