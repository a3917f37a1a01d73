"""Which sites a user works at: the one answer every `scoped_to` asks.

`site_scope(user)` reads the user's memberships once per user object (a request's user
is one object, so a page pays one query however many querysets it scopes) and returns
the facility and hospital ids, or `network_wide` for an auditor of the whole network.
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
    scope = (
        NETWORK
        if network
        else SiteScope(frozenset(facilities), frozenset(hospitals), time_zone=zone)
    )
    setattr(user, _CACHE_ATTRIBUTE, scope)
    return scope


def forget_site_scope(user) -> None:
    """After a membership changes for this user object (tests, the admin)."""
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)
