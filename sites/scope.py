"""Which sites a user works at: the one answer every `scoped_to` asks.

`site_scope(user)` reads the user's memberships once per user object (a request's user
is one object, so a page pays at most one query however many querysets it scopes) and
returns the facility and hospital ids, or `network_wide` for an auditor of the whole
network. The answer is kept with the user's permissions in the shared cache
(`core.access`, the fact "site_scope"), invalidated by any change of a membership or a
site, so a request of a known user reads no membership at all.
A user with no membership has an empty scope and sees nothing of their role's work;
superusers see the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass

_CACHE_ATTRIBUTE = "_celltrack_site_scope"


@dataclass(frozen=True)
class SiteScope:
    facility_ids: frozenset[int] = frozenset()
    hospital_ids: frozenset[int] = frozenset()
    network_wide: bool = False
    # The zone of the user's first site (by membership), None for the network or no site:
    # the user reads and types times in it (`sites.middleware.SiteTimeZoneMiddleware`).
    time_zone: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.network_wide or self.facility_ids or self.hospital_ids)


NETWORK = SiteScope(network_wide=True)
NOWHERE = SiteScope()


def site_scope(user) -> SiteScope:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOWHERE
    if user.is_superuser:
        return NETWORK
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    from core.access import user_fact

    scope = user_fact(user, "site_scope")
    setattr(user, _CACHE_ATTRIBUTE, scope)
    return scope


def load_site_scope(user) -> SiteScope:
    """The user's scope read from their memberships (one query; `core.access` keeps it)."""
    if user.is_superuser:
        return NETWORK
    from sites.models import Membership

    facilities, hospitals, network, zone = set(), set(), False, None
    for facility_id, hospital_id, network_wide, facility_zone, hospital_zone in (
        Membership.objects.filter(user_id=user.pk)
        .order_by("pk")
        .values_list(
            "facility_id",
            "hospital_id",
            "network_wide",
            "facility__time_zone",
            "hospital__time_zone",
        )
    ):
        network = network or network_wide
        zone = zone or facility_zone or hospital_zone
        if facility_id:
            facilities.add(facility_id)
        if hospital_id:
            hospitals.add(hospital_id)
    if network:
        return NETWORK
    return SiteScope(frozenset(facilities), frozenset(hospitals), time_zone=zone)


def forget_site_scope(user) -> None:
    """After a membership changes for this user object (tests, the admin)."""
    from core.access import forget_access

    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)
    forget_access(user)
