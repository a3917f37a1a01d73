from core.exceptions import DomainError


class AuditError(DomainError):
    pass


class AuditContextMissing(AuditError):
    """An audited record was about to change with nobody accountable for it."""


class AuditBypassError(AuditError):
    """A write path that would skip the audit trail (QuerySet.update, raw bulk writes)."""


class ReasonRequired(AuditError):
    """A change to a released, dispensed or closed record needs a written reason."""


class ImmutableAuditEvent(AuditError):
    """Audit events are append-only."""
