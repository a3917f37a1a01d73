"""The base of every audited record: each save and delete writes its audit event.

`AuditedModel.save()`/`delete()` append one event to the trail (`audit.writer`) in the
same transaction as the change; `AuditedQuerySet` refuses the write paths that would
skip it (`update()`, `bulk_update()`) and audits the rest (`bulk_create()`, `delete()`,
`update_audited()`).
"""

from __future__ import annotations

import datetime
import decimal
import uuid

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from audit.exceptions import AuditBypassError
from audit.writer import append_bulk_create, append_change, append_changes, require_accountable
from core.querysets import ScopedQuerySet

_PLAIN = frozenset((type(None), bool, int, str))


def jsonable(value):
    """A field value as the trail stores it: JSON types as they are, others as text."""
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


class AuditedQuerySet(ScopedQuerySet):
    """Refuses the write paths that would change rows without an audit event; reads are
    scoped with `for_user` (`core.querysets`)."""

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
        plain, as_json = _PLAIN, jsonable
        for attname in self._audit_attnames():
            value = getattr(self, attname)
            snapshot[attname] = value if type(value) in plain else as_json(value)
        return snapshot

    def save(self, *args, audit_action: str | None = None, **kwargs):
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
        before = getattr(self, "_audit_loaded", None) or self.audit_snapshot()
        ctx = require_accountable(self, reason_needed=self.reason_required(before))
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            append_change(self, ctx, before=before, after={}, action=audit_action)
            return super().delete(*args, **kwargs)
