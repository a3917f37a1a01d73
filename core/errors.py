"""The answer to an unexpected error, and to a lost database connection in particular.

`server_error` is the project's `handler500`: Django calls it inside its exception handler
for any exception a view *or a middleware* raised (a lost connection often surfaces in the
session or authentication middleware), so `sys.exc_info()` still names the cause. A
database that cannot be reached (`OperationalError`, `InterfaceError`) gets a 503 that says
to try again — a page that needs no database (no session, no user, no context
processors), or JSON under /api/ — and a log line; anything else the plain 500.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

logger = logging.getLogger("celltrack.errors")

TRY_AGAIN = (
    "The database could not be reached. Wait a moment and try again. If you were saving "
    "something, check whether it was recorded before you repeat it: a change is either "
    "saved whole or not at all."
)
RETRY_AFTER_SECONDS = "5"


def database_unavailable(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request, *args, **kwargs):
    exc = sys.exc_info()[1]
    if not database_unavailable(exc):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Server error."}, status=500)
        return defaults.server_error(request, *args, **kwargs)
    match = getattr(request, "resolver_match", None)
    logger.error(
        "database unavailable: %s (%s)",
        type(exc).__name__,
        match.route if match else "<path>",
        extra={"method": request.method, "status": 503},
    )
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": TRY_AGAIN, "code": "database_unavailable"}, status=503)
    else:
        html = loader.render_to_string("core/try_again.html", {"message": TRY_AGAIN})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response
