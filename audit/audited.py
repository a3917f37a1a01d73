"""The base of every audited record: each save and delete writes its audit event.

`AuditedModel.save()`/`delete()` append one event to the trail (`audit.writer`) in the
same transaction as the change; `AuditedQuerySet` refuses the write paths that would
skip it (`update()`, `bulk_update()`) and audits the rest (`bulk_create()`, `delete()`,
`update_audited()`).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.base import DEFERRED

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


def _applied(model, changes: dict) -> dict | None:
    """The snapshot values (by attname) an UPDATE of `changes` stores, where each is a
    plain value of a plain field; None where the stored row must be read to know
    (an expression, a relation, a value the database would convert)."""
    applied = {}
    for name, value in changes.items():
        field = model._meta.get_field(name)
        if field.is_relation or hasattr(value, "resolve_expression"):
            return None
        if field.name in model.audit_exclude:
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        value = field.to_python(value)
        if type(value) not in _PLAIN:
            return None
        applied[field.attname] = value
    return applied


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

    def update_audited(
        self, *, audit_action: str = "update", locked: list | None = None, **changes
    ) -> int:
        """A conditional UPDATE that still writes one audit event per changed row.

        The rows this queryset matches are locked (row locks on PostgreSQL), then updated
        by one UPDATE that repeats the queryset's own conditions, so a row that no longer
        matches (say, a bag no longer `available`) is left alone. Returns how many rows
        changed; each gets its event in the same transaction, in the order the rows are
        read (or given in `locked`). Runs in the caller's transaction without a savepoint
        (as `Model.save()`): an error dooms the enclosing transaction.

        `locked`: the instances of the rows to update, already locked
        (`select_for_update`) and loaded by this transaction, so they are the stored rows:
        they are neither locked nor read again, and the UPDATE is limited to them. When
        it changed all of them, their events are built from the rows as loaded with the
        (plain) new values applied; otherwise the rows are read back to tell which changed.
        """
        with transaction.atomic(savepoint=False):
            if locked is None:
                rows = {obj.pk: obj for obj in self.select_for_update()}
            else:
                rows = {obj.pk: obj for obj in locked}
            if not rows:
                return 0
            count = models.QuerySet.update(self.filter(pk__in=list(rows)), **changes)
            if not count:
                return 0
            applied = _applied(self.model, changes) if locked is not None else None
            if applied is not None and count == len(rows):
                pairs = [(obj, _loaded(obj)) for obj in rows.values()]
                triples = [(obj, before, {**before, **applied}) for obj, before in pairs]
            else:
                triples = [
                    # Both snapshots are of the rows as loaded (`from_db`, built lazily).
                    (obj, _loaded(rows[obj.pk]), _loaded(obj))
                    for obj in self.model._base_manager.filter(pk__in=list(rows))
                ]
            changed = []
            for obj, before, after in triples:
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
        # No savepoint, as Django's own bulk_create: an error dooms the enclosing
        # transaction, so rows can never be committed without their events.
        with transaction.atomic(using=self.db, savepoint=False):
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
        # Django's `Model.from_db`, inlined (this runs once per row loaded).
        if len(values) != len(cls._meta.concrete_fields):
            values_iter = iter(values)
            values = [
                next(values_iter) if f.attname in field_names else DEFERRED
                for f in cls._meta.concrete_fields
            ]
            field_names = [f.attname for f in cls._meta.concrete_fields]
        instance = cls(*values)
        instance._state.adding = False
        instance._state.db = db
        # The stored values, kept as loaded (a reference to the row, no copy): the
        # snapshot is built from them only when a change, a save or a delete asks for it,
        # so rows loaded only to be read pay nothing, and an attribute assigned before
        # the save cannot leak into the "before" of the trail.
        instance.__dict__["_audit_row"] = (field_names, values)
        return instance

    @property
    def _audit_loaded(self) -> dict | None:
        """The record as stored when it was loaded or last saved (None if never)."""
        state = self.__dict__
        snapshot = state.get("_audit_stored")
        if snapshot is None and "_audit_row" in state:
            snapshot = self._snapshot_of_row(*state.pop("_audit_row"))
            state["_audit_stored"] = snapshot
        return snapshot

    @_audit_loaded.setter
    def _audit_loaded(self, snapshot: dict | None) -> None:
        self.__dict__.pop("_audit_row", None)
        self.__dict__["_audit_stored"] = snapshot

    def _snapshot_of_row(self, field_names, values) -> dict:
        """The snapshot of the values `from_db` received; a field that was not loaded
        (deferred) is read from the database now, as the stored row has it."""
        row = dict(zip(field_names, values, strict=True))
        attnames = self._audit_attnames()
        missing = [name for name in attnames if row.get(name, DEFERRED) is DEFERRED]
        if missing:
            stored = (
                type(self)
                ._base_manager.using(self._state.db)
                .filter(pk=self.pk)
                .values(*missing)
                .first()
            )
            row.update(stored or dict.fromkeys(missing))
        plain, as_json = _PLAIN, jsonable
        snapshot = {}
        for attname in attnames:
            value = row[attname]
            snapshot[attname] = value if type(value) in plain else as_json(value)
        return snapshot

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        if fields is not None:
            # A partial reload (also how a deferred field loads): the other fields may
            # hold unsaved values, so only the reloaded ones are taken as stored.
            snapshot = self._audit_loaded
            super().refresh_from_db(using, fields, from_queryset)
            if snapshot is not None:
                reloaded = set(fields)
                for field in self._meta.concrete_fields:
                    name = field.attname
                    if name in snapshot and (name in reloaded or field.name in reloaded):
                        value = getattr(self, name)
                        snapshot[name] = value if type(value) in _PLAIN else jsonable(value)
            return
        super().refresh_from_db(using, fields, from_queryset)
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
