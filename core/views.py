import uuid
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.db import connection
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


def healthz(request):
    """For load balancers and monitoring: anonymous, never redirected to HTTPS, JSON
    `{"status", "database", "cache"}` — 200 when both answer, 503 otherwise."""
    database = cache_state = "ok"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 — any failure is "the database does not answer"
        database = "error"
    try:
        probe = uuid.uuid4().hex
        caches["default"].set("celltrack:healthz", probe, 30)
        if caches["default"].get("celltrack:healthz") != probe:
            cache_state = "error"
    except Exception:  # noqa: BLE001
        cache_state = "error"
    healthy = database == cache_state == "ok"
    return JsonResponse(
        {"status": "ok" if healthy else "error", "database": database, "cache": cache_state},
        status=200 if healthy else 503,
    )
