"""What every production service shares: locking a batch, saving a validated record with
its audit event, deleting one with its reason."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import PROTECT

from audit.context import audit_context
from batches.exceptions import BatchError
from batches.models import Batch
from core.exceptions import DomainError, validation_messages


def lock_batch(batch: Batch) -> Batch:
    return (
        Batch.objects.select_for_update()
        .select_related("donor", "procurement", "facility", "specification")
        .get(pk=batch.pk)
    )


def lock(obj):
    """The stored row of `obj`, locked (`SELECT … FOR UPDATE`)."""
    return type(obj).objects.select_for_update().get(pk=obj.pk)


def refuse_unknown(changes: dict, allowed, refusal: str) -> None:
    """Refuse fields outside `allowed`: "<refusal>: a, b." (e.g. "These fields cannot be
    corrected")."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise BatchError(f"{refusal}: {', '.join(sorted(unknown))}.")


def save_validated(
    obj,
    *,
    actor,
    reason: str = "",
    error: type[DomainError] = BatchError,
    exclude=None,
    audit_action: str | None = None,
):
    """Validate `obj` (`full_clean`: fields, `clean()`, constraints) and save it with its
    audit event naming `actor` and `reason`; a validation failure is raised as `error`
    with one "field: message" line per problem, and nothing is written."""
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as failure:
        raise error(validation_messages(failure)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        obj.save(audit_action=audit_action)
    return obj


def correct_record(obj, changes: dict, *, allowed, actor, reason: str = ""):
    """Lock `obj`, set `changes` (only `allowed` fields), validate and save it with its
    audit event. A record whose change needs a reason (`reason_required`) refuses one
    without (`audit.exceptions.ReasonRequired`)."""
    refuse_unknown(changes, allowed, "These fields cannot be changed")
    stored = lock(obj)
    for name, value in changes.items():
        setattr(stored, name, value)
    return save_validated(stored, actor=actor, reason=reason)


def deletion_refusal(record) -> str | None:
    """Why a stored record may not be deleted, or None.

    The record's own rule where it has one (`deletion_refusal()`: a donor's records, a
    release check, a specification item), else: a record whose change needs a written
    reason (a QP has decided on it, or on what it belongs to) is corrected, never deleted.
    """
    own = getattr(record, "deletion_refusal", None)
    if own is not None:
        return own()
    if record.reason_required(record.audit_snapshot()):
        return (
            f"{record._meta.verbose_name.capitalize()} {record.audit_code} is part of a "
            "record a QP has decided on: it is corrected (with a reason), never deleted."
        )
    return None


def delete_audited(obj, *, actor, reason: str, error: type[DomainError] = BatchError) -> None:
    """Delete a stored record with its audit event; `reason` is required.

    Refuses what `deletion_refusal` forbids and a record others still refer to (naming
    them). Runs in the caller's transaction (each service is atomic): a refusal leaves
    nothing written.
    """
    if not reason.strip():
        raise error(f"Give the reason for deleting {obj._meta.verbose_name} {obj.audit_code}.")
    stored = lock(obj)
    own = deletion_refusal(stored)
    if own:
        raise getattr(stored, "deletion_error", error)(own)
    protected = protected_refusal(stored)
    if protected:
        raise error(protected)
    with audit_context(actor=actor, reason=reason.strip()):
        stored.delete()


def protected_refusal(record) -> str | None:
    """Which kinds of record still refer to `record` (a PROTECT foreign key), asked before
    the delete: its audit event is written first, so a refused DELETE would doom the
    transaction."""
    referring = sorted(
        str(rel.related_model._meta.verbose_name_plural)
        for rel in record._meta.related_objects
        if rel.on_delete is PROTECT
        and rel.related_model._base_manager.filter(**{rel.field.name: record}).exists()
    )
    if referring:
        return (
            f"{record._meta.verbose_name.capitalize()} {record.audit_code} cannot be "
            f"deleted: {', '.join(referring)} still refer to it."
        )
    return None
