"""Times read and typed in the user's site's time zone.

A technician at a facility in Canarias reads a batch's times in Atlantic/Canary, a
pharmacist in Madrid in Europe/Madrid; a user of no one site (the network's auditors,
superusers, anyone signed out) in the deployment's zone (`TIME_ZONE`). The zone comes
with the user's memberships (`site_scope`, read once per request and reused by every
scoped queryset), so activating it costs no query of its own on a scoped page.
"""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from sites.scope import site_scope


def user_time_zone(user) -> zoneinfo.ZoneInfo | None:
    """The zone of the user's site, or None for the deployment's."""
    name = site_scope(user).time_zone
    return zoneinfo.ZoneInfo(name) if name else None


class SiteTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = user_time_zone(getattr(request, "user", None))
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
