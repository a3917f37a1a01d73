"""Which address a request comes from, the one rule for lockouts, throttles and the trail.

`X-Forwarded-For` is believed only as far as `TRUSTED_PROXY_COUNT` proxies of our own
wrote it (0 by default: the socket's address, whatever the header says). With N trusted
proxies the client is the N-th address from the right: each proxy appends the address it
was connected from, so everything left of that was typed by the client and can be spoofed.
This is exactly DRF's rule for `NUM_PROXIES` (set from the same setting), so the login
throttle and the lockout count the same client; `tests/security` checks they agree.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    """The client's address as the trusted proxies saw it (see the module docstring).

    A value that is not an IP address (a client talking to the server directly, around
    the proxies, with a forged header) falls back to the socket's address."""
    remote_addr = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote_addr
    addresses = forwarded.split(",")
    candidate = addresses[-min(proxies, len(addresses))].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr
