"""The append-only, hash-chained audit trail: events, signatures and checkpoints.

The base class of audited records is `audit.audited.AuditedModel`; the only code that
writes events is `audit.writer`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Cast

from audit.chain import canonical_json
from audit.context import Origin
from audit.exceptions import ImmutableAuditEvent
from core.querysets import ScopedQuerySet, site_scope_of


class AuditEventQuerySet(ScopedQuerySet):
    def update(self, **kwargs):
        raise ImmutableAuditEvent("Audit events are append-only: they cannot be updated.")

    def delete(self):
        raise ImmutableAuditEvent("Audit events are append-only: they cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableAuditEvent("Audit events are append-only: they cannot be updated.")

    def for_object(self, obj) -> AuditEventQuerySet:
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))

    def scoped_to(self, user) -> AuditEventQuerySet:
        """Network-wide readers see the whole trail. A reader of named sites sees the
        events (and signatures) of the records they can see now: one query, an
        `object_type = … AND object_id IN (…)` per audited model, each subquery that
        model's own `scoped_to`. Events of deleted records, of logins and of checkpoints
        belong to no site and stay network-wide (docs/permissions.md, "Sites")."""
        scope = site_scope_of(user)
        if scope is None or scope.network_wide:
            return self
        field_names = {f.name for f in self.model._meta.get_fields()}
        if "object_type" not in field_names:
            return self.none()
        seen = models.Q(pk__in=[])
        for model in audited_models():
            ids = (
                model._default_manager.scoped_to(user)
                .annotate(_audit_id=Cast("pk", output_field=models.CharField()))
                .values("_audit_id")
            )
            seen |= models.Q(object_type=model._meta.label_lower, object_id__in=ids)
        return self.filter(seen)


def audited_models() -> list:
    """The models whose events a site reader may see: every model of the apps with a
    scoped manager (`core.querysets.ScopedQuerySet`), the trail's own tables excepted."""
    from django.apps import apps

    return [
        model
        for model in apps.get_models()
        if model._meta.app_label != "audit"
        and isinstance(model._default_manager.all(), ScopedQuerySet)
    ]


class CanonicalJSONField(models.JSONField):
    """A JSON value stored as its canonical text (sorted keys, compact, UTF-8), on every
    database: PostgreSQL's jsonb would reorder and re-space it. The verifier then hashes
    the stored text as it is, without parsing a million JSON documents."""

    def db_type(self, connection):
        return "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        if hasattr(value, "as_sql"):
            return value
        return canonical_json(value)


class AuditEvent(models.Model):
    """One change to one regulated record. Never updated, never deleted.

    `hash` is the SHA-256 of the canonical content (see `audit.chain`), which includes
    `prev_hash`, so that any edit, removal or reordering of events breaks the chain.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"

    seq = models.BigIntegerField(unique=True, help_text="Position in the chain, from 1.")
    occurred_at = models.DateTimeField(help_text="When the change was committed (UTC).")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who made the change; empty for the system itself.",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.CHOICES)
    action = models.CharField(
        max_length=32, help_text="create, update, delete, or a named transition."
    )
    object_type = models.CharField(max_length=100, help_text="app_label.model")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, help_text="The record's natural code.")
    changes = CanonicalJSONField(default=dict, help_text="{field: [before, after]}")
    reason = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"#{self.seq} {self.action} {self.object_type} {self.object_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableAuditEvent("Audit events are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableAuditEvent("Audit events are append-only: they cannot be deleted.")


class Signature(models.Model):
    """An electronic signature (21 CFR 11.50/11.200 style), append-only like the trail.

    The signer re-entered the password at signing; the signature records the printed
    name, the time and the meaning, and is bound to a SHA-256 of the signed record's
    content, so a later change to the record shows that the signature no longer matches.
    """

    class Meaning(models.TextChoices):
        RELEASED = "released", "Released"
        REJECTED = "rejected", "Rejected"
        APPROVED = "approved", "Approved"
        DISPENSED = "dispensed", "Dispensed"
        RECALLED = "recalled", "Recalled"
        SUBMITTED = "submitted", "Submitted"

    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures"
    )
    printed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()
    meaning = models.CharField(max_length=16, choices=Meaning.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64, help_text="SHA-256 of the signed content.")
    comment = models.TextField(blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["signed_at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.meaning} by {self.printed_name} at {self.signed_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableAuditEvent("Signatures cannot be changed once made.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableAuditEvent("Signatures cannot be deleted.")


class AuditCheckpoint(models.Model):
    """A signed note of the chain's head: "event `seq` had hash `event_hash`".

    `mac` is an HMAC-SHA256 under `settings.AUDIT_CHECKPOINT_KEY`, a key that lives in the
    environment and never in the database. Someone who can rewrite the audit table can
    recompute every hash of the chain, but cannot make a checkpoint that agrees with the
    rewritten chain, so `verify_audit` catches a recomputed chain too. Append-only.
    """

    seq = models.BigIntegerField(help_text="Position of the chain's head when recorded.")
    event_hash = models.CharField(max_length=64, help_text="Hash of the event at `seq`.")
    recorded_at = models.DateTimeField()
    recorded_by = models.CharField(max_length=150, blank=True)
    key_fingerprint = models.CharField(
        max_length=16, help_text="Identifies the key that made `mac` (not the key itself)."
    )
    mac = models.CharField(max_length=64, help_text="HMAC-SHA256 of seq, hash and time.")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq", "id"]

    def __str__(self):
        return f"checkpoint at #{self.seq} ({self.recorded_at:%Y-%m-%d %H:%M})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableAuditEvent("Checkpoints cannot be changed once recorded.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableAuditEvent("Checkpoints cannot be deleted.")


class ReconciliationRun(models.Model):
    """The verdict of one `verify_audit` reconciliation (records against their trail), so
    that the verify endpoint can report it without replaying the trail."""

    finished_at = models.DateTimeField(auto_now_add=True, db_index=True)
    clean = models.BooleanField()
    models_checked = models.PositiveIntegerField(default=0)
    rows_checked = models.PositiveBigIntegerField(default=0)
    events_read = models.PositiveBigIntegerField(default=0)
    findings_count = models.PositiveBigIntegerField(default=0)
    findings = models.JSONField(default=list, help_text="The first findings, described.")
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-finished_at", "-id"]

    def __str__(self):
        verdict = "clean" if self.clean else f"{self.findings_count} findings"
        return f"reconciliation {self.finished_at:%Y-%m-%d %H:%M}: {verdict}"
