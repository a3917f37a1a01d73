"""Request-wide rules: the request log, the security headers, the session's lifetime,
the second factor and the read replica's routing. Their order is in `config/settings.py`
(MIDDLEWARE)."""

from __future__ import annotations

import logging
import re
import time
import uuid
import warnings
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import MiddlewareNotUsed
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.functional import empty
from whitenoise.middleware import WhiteNoiseMiddleware

from core import db_router, sessions
from core.fhir import FHIR_PATH, outcome

request_log = logging.getLogger("celltrack.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _known_user_id(request):
    """The user's id if authentication already ran for this request — never a query
    of its own (the log must not cost one)."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty:
        wrapped = request.__dict__.get("_cached_user")
    if wrapped is None or wrapped is empty:
        return None
    if getattr(wrapped, "is_authenticated", False):
        return wrapped.pk
    return None


class RequestLogMiddleware:
    """One JSON line per request (logger `celltrack.request`): method, the URL *pattern*
    that matched (never the path: paths carry patient codes), status, duration, user id,
    request id. Headers, query strings and bodies are never logged, so no token is.

    The request id comes from a well-formed `X-Request-ID` (a proxy's), else is made
    here, and is answered in `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        if settings.REQUEST_LOG:
            match = getattr(request, "resolver_match", None)
            request_log.info(
                "request",
                extra={
                    "method": request.method,
                    "route": match.route if match else None,
                    "view": match.view_name if match else None,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user_id": _known_user_id(request),
                    "request_id": request.request_id,
                },
            )
        return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """whitenoise, serving what `collectstatic` put in STATIC_ROOT (see core.storage).
    Where nothing was collected (a fresh clone, the tests) there is nothing to serve, and
    that is not worth a warning at every start."""

    def __init__(self, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
            super().__init__(*args, **kwargs)


class SecurityHeadersMiddleware:
    """Permissions-Policy on every answer, and `Cache-Control: no-store` on every answer
    made by a view (pages and API alike: any of them may show patient data). Static files
    are answered by whitenoise before this and stay cacheable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        add_never_cache_headers(response)
        return response


def _exempt_prefixes() -> tuple[str, ...]:
    return (
        reverse("login"),
        reverse("logout"),
        reverse("two-factor"),
        reverse("admin:login"),
        reverse("admin:logout"),
        reverse("v1:login"),
        reverse("v1:logout"),
        reverse("healthz"),
        "/" + settings.STATIC_URL.lstrip("/"),
    )


# C0 controls and DEL: never part of a code, a key or any path CellTrack makes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ControlCharacterMiddleware:
    """A path with a control character (a NUL, say, which PostgreSQL cannot even be asked
    about) names nothing: 404 before any view runs — JSON on the API, the 404 page on the
    site. One rule here, rather than a check in every view that looks a code up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _CONTROL.search(request.path_info):
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": "Not found: no such API path."}, status=404)
            raise Http404("No such page.")
        return self.get_response(request)


class SessionLifetimeMiddleware:
    """Ends a session after `SESSION_IDLE_SECONDS` without a request or
    `SESSION_COOKIE_AGE` after its login (see `core.sessions`); the request then goes on
    as anonymous (a page sends to the login, the API answers 401/403)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and sessions.LOGIN_AT_KEY in session:
            at = sessions.now()
            reason = sessions.session_end_reason(session, at)
            if reason is not None:
                logout(request)
                if not request.path.startswith("/api/"):
                    messages.info(
                        request,
                        "Your session ended after "
                        + (
                            f"{settings.SESSION_IDLE_SECONDS // 60} minutes without activity"
                            if reason == "idle"
                            else f"{settings.SESSION_COOKIE_AGE // 3600} hours"
                        )
                        + ": log in again.",
                    )
            elif request.user.is_authenticated:
                sessions.touch(session, request.user, at)
        return self.get_response(request)


_CODE_FIRST = (
    "This account logs in with two factors: give the code from your authenticator app at "
    "/accounts/two-factor/ first."
)


class SecondFactorMiddleware:
    """A user who must log in with two factors (`core.two_factor`) and has not given the
    code in this session reaches nothing but the code step, the enrolment and logout:
    pages redirect to `/accounts/two-factor/`, the API answers 403 (under `FHIR_PATH` an
    OperationOutcome: a FHIR client reads nothing else). Token-authenticated API
    requests are not concerned: the API login asks for the code itself."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._exempt = None

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not user.is_verified():
            if self._exempt is None:
                self._exempt = _exempt_prefixes()
            if not request.path.startswith(self._exempt) and sessions.needs_code(
                request.session, user
            ):
                if request.path.startswith(FHIR_PATH):
                    return outcome(403, "forbidden", _CODE_FIRST)
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": _CODE_FIRST}, status=403)
                return redirect(f"{reverse('two-factor')}?next={quote(request.get_full_path())}")
        return self.get_response(request)


class ReplicaRoutingMiddleware:
    """With a read replica (`DATABASE_REPLICA_URL`): tells `core.db_router` what this
    request is, so the auditor API's reads, exports and reports may read the replica and
    a user who wrote is read from the primary for `REPLICA_STICKY_SECONDS`. A streamed
    answer (the CSV export) keeps its routing until its last row is sent. Not used at all
    without a replica."""

    def __init__(self, get_response):
        if not db_router.replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        kind = db_router.request_kind(
            request.method,
            request.path_info,
            request.GET.get("format", ""),
            request.META.get("HTTP_ACCEPT", ""),
        )
        routing = db_router.start_request(request, kind)
        try:
            response = self.get_response(request)
        except BaseException:
            db_router.end_request(routing)
            raise
        if response.streaming and not getattr(response, "is_async", False):
            response.streaming_content = _then_end(response.streaming_content, routing)
        else:
            db_router.end_request(routing)
        return response


def _then_end(content, routing):
    try:
        yield from content
    finally:
        db_router.end_request(routing)
