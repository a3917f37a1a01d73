import time
import uuid
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.db import connection, connections
from django.http import JsonResponse
from django.shortcuts import redirect, render


def requires(*perms: str):
    """A page for users with every one of `perms`: anonymous → the login page, signed in
    without them → 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@login_required
def home(request):
    """Send each role to where its work is."""
    user = request.user
    groups = set(user.groups.values_list("name", flat=True))
    if "pharmacy" in groups:
        return redirect("/pharmacy/")
    if "clinician" in groups:
        return redirect("/clinic/")
    if user.is_staff:
        return redirect("admin:index")
    return render(request, "core/home.html", {"groups": sorted(groups)})


# On the standby: whether it is one, and how far its replay is behind. Zero when every
# received change is replayed (an idle primary sends nothing, so the time since the last
# replayed transaction is not lag then); NULL before anything was replayed.
REPLICA_LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END
"""


def replica_health() -> dict:
    """`{"status", "lag_seconds"}` of the read replica: "ok" when it answers as a standby,
    "error" when it does not answer or is not in recovery (lag_seconds then null)."""
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute(REPLICA_LAG_SQL)
            in_recovery, lag = cursor.fetchone()
    except Exception:  # noqa: BLE001 — any failure is "the replica does not answer"
        return {"status": "error", "lag_seconds": None}
    if not in_recovery:
        return {"status": "error", "lag_seconds": None}
    return {"status": "ok", "lag_seconds": None if lag is None else round(float(lag), 3)}


# The cache probe: this process's own key (workers never read each other's value),
# written and read back at most every PROBE_REWRITE_S; in between only read back. A write
# on every check cost a commit (with the database cache, most of the check's time).
PROBE_KEY = f"celltrack:healthz:{uuid.uuid4().hex}"
PROBE_TTL_S = 120
PROBE_REWRITE_S = 30
_probe = {"value": None, "until": 0.0}


def cache_answers() -> bool:
    """Whether the default cache answers: it returns what this process last wrote there,
    or (every PROBE_REWRITE_S, or when that value is gone — a flushed or restarted
    cache) it stores a new value and returns it."""
    cache = caches["default"]
    fresh = _probe["value"] is not None and time.monotonic() < _probe["until"]
    if fresh and cache.get(PROBE_KEY) == _probe["value"]:
        return True
    value = uuid.uuid4().hex
    cache.set(PROBE_KEY, value, PROBE_TTL_S)
    if cache.get(PROBE_KEY) != value:
        _probe["value"] = None
        return False
    _probe.update(value=value, until=time.monotonic() + PROBE_REWRITE_S)
    return True


def healthz(request):
    """For load balancers and monitoring: anonymous, never redirected to HTTPS, JSON
    `{"status", "database", "cache"}` — 200 when both answer, 503 otherwise. With a read
    replica also `"replica": {"status", "lag_seconds"}`, for monitoring only: a replica
    that fails does not fail the check (the primary can serve every request)."""
    database = cache_state = "ok"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 — any failure is "the database does not answer"
        database = "error"
    try:
        cache_state = "ok" if cache_answers() else "error"
    except Exception:  # noqa: BLE001
        cache_state = "error"
    healthy = database == cache_state == "ok"
    answer = {"status": "ok" if healthy else "error", "database": database, "cache": cache_state}
    if "replica" in settings.DATABASES:
        answer["replica"] = replica_health()
    return JsonResponse(answer, status=200 if healthy else 503)
