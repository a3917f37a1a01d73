"""Who is changing regulated records, from where, and why.

A service opens an `audit_context(actor=..., reason=...)` around its writes; every save of
an audited model inside it writes an audit event carrying that actor and reason. The
origin (admin, form, api, command) is set once per request by `AuditOriginMiddleware` or
per management command with `audit_origin("command")`.

A save of an audited model outside any context is refused (`AuditContextMissing`): a
change nobody is accountable for must not be possible.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


class Origin:
    ADMIN = "admin"
    FORM = "form"
    API = "api"
    COMMAND = "command"
    SYSTEM = "system"
    MIGRATION = "migration"
    TEST = "test"

    CHOICES = [
        (ADMIN, "Admin"),
        (FORM, "Form"),
        (API, "API"),
        (COMMAND, "Command"),
        (SYSTEM, "System"),
        (MIGRATION, "Migration"),
        (TEST, "Test"),
    ]


@dataclass(frozen=True)
class AuditContext:
    actor: Any  # a User, or None for the system itself
    reason: str = ""
    origin: str | None = None


_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)
_origin: ContextVar[str] = ContextVar("audit_origin", default=Origin.SYSTEM)


@contextmanager
def audit_context(*, actor, reason: str = "", origin: str | None = None):
    """Attribute every audited write inside the block to `actor`, with `reason`."""
    token = _context.set(AuditContext(actor=actor, reason=reason or "", origin=origin))
    try:
        yield
    finally:
        _context.reset(token)


@contextmanager
def audit_origin(origin: str):
    """Mark where the writes inside the block come from (a request kind or a command)."""
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


def current_context() -> AuditContext | None:
    return _context.get()


def current_origin() -> str:
    ctx = _context.get()
    if ctx is not None and ctx.origin:
        return ctx.origin
    return _origin.get()
