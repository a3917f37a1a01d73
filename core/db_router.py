"""Reads that may lag go to the PostgreSQL streaming replica; everything else to the primary.

Installed only when `DATABASE_REPLICA_URL` is set (`config/settings.py`, alias "replica").
A request's routing is decided by `core.middleware.ReplicaRoutingMiddleware`, which puts a
`RequestRouting` in a context variable; outside a request (commands, the shell) every
query goes to the primary unless a block asks for the replica (`reading_from_replica`,
used by `verify_audit`). A read goes to the replica only when all of these hold:

- the request is a GET or HEAD of the auditor API (`/api/v1/`, not its login) by a user
  in the auditor group, a CSV export (`?format=csv`) or a report (`/reports/`,
  `/api/v1/reports/`), by any signed-in user;
- the user wrote nothing in this request, nor in the last `REPLICA_STICKY_SECONDS`
  (the time is kept in the shared cache, so every server knows it);
- the query is not inside a transaction (a service reads what it is about to change from
  the primary) and is not of accounts, tokens, sessions, lockouts or the cache table
  (who is signed in must never lag);
- the replica answers (otherwise the primary does, and a warning is logged).

Every write goes to the primary, and migrations run only there.
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

log = logging.getLogger("celltrack.replica")

REPLICA = "replica"

# Never read from the replica: who the user is and what they may do.
PRIMARY_APPS = frozenset(
    {"auth", "knox", "sessions", "axes", "otp_totp", "django_otp", "contenttypes", "admin"}
)
# The database cache's own table (`django.core.cache.backends.db`): always the primary,
# and its writes (throttles, this module's marks) are not the user's writes.
CACHE_APP = "django_cache"
# Writes that are the machinery's, not the user's: they make nobody sticky.
NOT_USER_WRITES = frozenset({CACHE_APP, "sessions", "axes"})

AUDITOR_GROUP = "auditor"

_routing: contextvars.ContextVar[RequestRouting | None] = contextvars.ContextVar(
    "celltrack_replica_routing", default=None
)
_forced_replica: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "celltrack_forced_replica", default=False
)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _sticky_key(user_id) -> str:
    return f"celltrack:replica:wrote:{user_id}"


def request_kind(method: str, path: str, query_format: str, accept: str) -> str | None:
    """Which replica-eligible kind of read a request is: "report", "export", "api" or None."""
    if method not in ("GET", "HEAD"):
        return None
    if path.startswith(("/reports/", "/api/v1/reports/")):
        return "report"
    if path.startswith("/api/") and (query_format == "csv" or "text/csv" in accept):
        return "export"
    if path.startswith("/api/v1/") and not path.startswith("/api/v1/auth/"):
        return "api"
    return None


class RequestRouting:
    """One request's routing: lazy, because the API authenticates its token inside the
    view — the decision is taken at the first read of a record, after authentication."""

    __slots__ = ("request", "kind", "wrote", "writer_ids", "_allowed")

    def __init__(self, request, kind: str | None):
        self.request = request
        self.kind = kind
        self.wrote = False
        self.writer_ids: set[int] = set()
        self._allowed: bool | None = None if kind else False

    def _user(self):
        user = self.request.__dict__.get("user")
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        return user

    def replica_allowed(self) -> bool:
        if self.wrote:
            return False
        if self._allowed is None:
            user = self._user()
            if user is None:
                return False  # not yet authenticated: decide at a later read
            self._allowed = self._decide(user)
        return self._allowed

    def _decide(self, user) -> bool:
        if self.kind == "api" and not user.groups.filter(name=AUDITOR_GROUP).exists():
            return False
        if cache.get(_sticky_key(user.pk)) is not None:
            return False
        try:
            connections[REPLICA].ensure_connection()
        except DatabaseError:
            # The primary answers everything: a replica that is down only costs speed.
            log.warning("replica_unavailable", exc_info=True)
            return False
        return True

    def finish(self) -> None:
        """At the end of the request: a user who wrote reads from the primary for the
        next REPLICA_STICKY_SECONDS."""
        if not self.wrote:
            return
        user = self._user()
        ids = set(self.writer_ids) | ({user.pk} if user is not None else set())
        if ids:
            cache.set_many(
                {_sticky_key(pk): 1 for pk in ids}, timeout=settings.REPLICA_STICKY_SECONDS
            )


def start_request(request, kind: str | None) -> RequestRouting:
    routing = RequestRouting(request, kind)
    _routing.set(routing)
    return routing


def end_request(routing: RequestRouting) -> None:
    try:
        routing.finish()
    finally:
        if _routing.get() is routing:
            _routing.set(None)


@contextmanager
def reading_from_replica():
    """Inside the block the default connection *is* the replica's (for this thread), so
    code that reads through `django.db.connection` with raw SQL — the audit chain's
    verification — reads the replica too. Nothing inside may write. Without a replica,
    nothing changes."""
    if not replica_configured():
        yield
        return
    primary = connections[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = connections[REPLICA]
    token = _forced_replica.set(True)
    try:
        yield
    finally:
        _forced_replica.reset(token)
        connections[DEFAULT_DB_ALIAS] = primary


class ReplicaRouter:
    """`DATABASE_ROUTERS` entry when a replica is configured (see the module docstring)."""

    def db_for_read(self, model, **hints):
        label = model._meta.app_label
        if label in PRIMARY_APPS or label == CACHE_APP:
            return DEFAULT_DB_ALIAS
        if _forced_replica.get():
            return DEFAULT_DB_ALIAS  # the default connection is the replica's here
        routing = _routing.get()
        if routing is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return REPLICA if routing.replica_allowed() else DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        routing = _routing.get()
        if routing is not None and model._meta.app_label not in NOT_USER_WRITES:
            routing.wrote = True
            instance = hints.get("instance")
            # A login writes the user's last_login before the request knows the user.
            if model._meta.label == settings.AUTH_USER_MODEL and getattr(instance, "pk", None):
                routing.writer_ids.add(instance.pk)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
