"""The append-only, hash-chained audit trail and the base class of every audited record."""

from __future__ import annotations

import datetime
import decimal
import uuid

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from audit.chain import canonical_json
from audit.context import Origin
from audit.exceptions import AuditBypassError, ImmutableAuditEvent


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableAuditEvent("Audit events are append-only: they cannot be updated.")

    def delete(self):
        raise ImmutableAuditEvent("Audit events are append-only: they cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableAuditEvent("Audit events are append-only: they cannot be updated.")

    def for_object(self, obj) -> AuditEventQuerySet:
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


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


_PLAIN = frozenset((type(None), bool, int, str))


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, dict)):
        return value
    return str(value)


def _loaded(obj) -> dict:
    snapshot = getattr(obj, "_audit_loaded", None)
    return obj.audit_snapshot() if snapshot is None else snapshot


class AuditedQuerySet(models.QuerySet):
    """Refuses the write paths that would change rows without an audit event."""

    def update(self, **kwargs):
        raise AuditBypassError(
            f"{self.model._meta.verbose_name}: QuerySet.update() would skip the audit "
            "trail; save each record through its service."
        )

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditBypassError(
            f"{self.model._meta.verbose_name}: bulk_update() would skip the audit trail."
        )

    def update_audited(self, *, audit_action: str = "update", **changes) -> int:
        """A conditional UPDATE that still writes one audit event per changed row.

        The rows this queryset matches are locked (row locks on PostgreSQL), then updated
        by one UPDATE that repeats the queryset's own conditions, so a row that no longer
        matches (say, a bag no longer `available`) is left alone. Returns how many rows
        changed; each gets its event in the same transaction.
        """
        from audit.services import append_changes, require_accountable

        with transaction.atomic():
            rows = {obj.pk: obj for obj in self.select_for_update()}
            if not rows:
                return 0
            count = models.QuerySet.update(self.filter(pk__in=list(rows)), **changes)
            if count:
                changed = []
                for obj in self.model._base_manager.filter(pk__in=list(rows)):
                    # Both snapshots were taken when the rows were loaded (`from_db`).
                    before, after = _loaded(rows[obj.pk]), _loaded(obj)
                    if before == after:
                        continue
                    ctx = require_accountable(obj, reason_needed=obj.reason_required(before))
                    changed.append((obj, before, after))
                if changed:
                    append_changes(changed, ctx, action=audit_action)
        return count

    def delete(self):
        # Deleting one by one keeps one audit event per record.
        with transaction.atomic():
            count = 0
            for obj in self:
                obj.delete()
                count += 1
        return count, {self.model._meta.label: count}

    def bulk_create(self, objs, *args, **kwargs):
        from audit.services import append_bulk_create

        with transaction.atomic():
            created = super().bulk_create(objs, *args, **kwargs)
            append_bulk_create(created)
        return created


class AuditedModel(models.Model):
    """Base of every GMP or clinical record: each save and delete writes an audit event.

    The event is written in the same transaction as the change (so a rollback leaves
    none) and attributed to the current `audit_context`. Subclasses may define
    `audit_code` (the natural code shown on the trail) and `reason_required()` (True when
    the stored state of the record means a change needs a written reason).
    """

    objects = AuditedQuerySet.as_manager()

    # Fields never copied into the trail (none by default; secrets would go here).
    audit_exclude: tuple[str, ...] = ()

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._audit_loaded = instance.audit_snapshot()
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._audit_loaded = self.audit_snapshot()

    @property
    def audit_code(self) -> str:
        return str(self)

    def reason_required(self, stored: dict) -> bool:
        """Whether edits need a written reason, judged on the stored state (a snapshot).

        Override in records that become released, dispensed or closed.
        """
        return False

    @classmethod
    def _audit_attnames(cls) -> tuple[str, ...]:
        """The attnames a snapshot copies, computed once per model class."""
        names = cls.__dict__.get("_audit_attnames_cache")
        if names is None:
            names = tuple(
                field.attname
                for field in cls._meta.concrete_fields
                if field.name not in cls.audit_exclude
            )
            cls._audit_attnames_cache = names
        return names

    def audit_snapshot(self) -> dict:
        snapshot = {}
        plain, jsonable = _PLAIN, _jsonable
        for attname in self._audit_attnames():
            value = getattr(self, attname)
            snapshot[attname] = value if type(value) in plain else jsonable(value)
        return snapshot

    def save(self, *args, audit_action: str | None = None, **kwargs):
        from audit.services import append_change, require_accountable

        if self._state.adding:
            before = {}
        else:
            before = getattr(self, "_audit_loaded", None)
            if before is None:
                # Built by hand rather than loaded: the stored row is the "before".
                stored = type(self)._base_manager.filter(pk=self.pk).first()
                before = stored.audit_snapshot() if stored else {}
        reason_needed = bool(before) and self.reason_required(before)
        # Refused before anything is written (and outside the transaction, so a caller
        # may catch the DomainError and carry on): an unaccountable change never happens.
        ctx = require_accountable(self, reason_needed=reason_needed)
        action = audit_action or ("update" if before else "create")
        conn = connections[kwargs.get("using") or DEFAULT_DB_ALIAS]
        if conn.in_atomic_block:
            # Inside a transaction: what `atomic(savepoint=False)` would do, without its
            # cost — an error dooms the enclosing transaction (like Model.save()), so the
            # record can never be committed without its event.
            try:
                super().save(*args, **kwargs)
                after = self.audit_snapshot()
                append_change(self, ctx, before=before, after=after, action=action)
            except BaseException:
                conn.needs_rollback = True
                raise
        else:
            with transaction.atomic(using=conn.alias, savepoint=False):
                super().save(*args, **kwargs)
                after = self.audit_snapshot()
                append_change(self, ctx, before=before, after=after, action=action)
        self._audit_loaded = after

    def delete(self, *args, audit_action: str = "delete", **kwargs):
        from audit.services import append_change, require_accountable

        before = getattr(self, "_audit_loaded", None) or self.audit_snapshot()
        ctx = require_accountable(self, reason_needed=self.reason_required(before))
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            append_change(self, ctx, before=before, after={}, action=audit_action)
            return super().delete(*args, **kwargs)


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
