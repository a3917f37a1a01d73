"""Reading a record's audit history, for the admin and the pharmacy pages."""

from audit.models import AuditEvent


def history_for(obj):
    """The audit events of one record, oldest first, with their actors."""
    return AuditEvent.objects.for_object(obj).select_related("actor").order_by("seq")
