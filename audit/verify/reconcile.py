"""Reconciliation: do the records say what the trail says they say?

The hash chain proves that nobody changed the trail; it says nothing of a record changed
with SQL behind the application's back (a dose's cells, a weight, an adverse event's
grade). `reconcile()` replays the trail of every audited model and compares:

- every current row with the after-state of its events (creation, then each change):
  a field whose stored value differs is a finding ("changed in the database");
- every row has events ("no event on the trail": inserted by SQL);
- every object whose last event is not a deletion still exists ("row missing").

It is streamed: per model, rows in primary-key chunks of `CHUNK` and the events of just
those rows (the `object_type, object_id` index), then the object ids of the trail that
matched no row. Memory holds one chunk and one set of keys per model, not the trail.

A field that no event of a record ever mentioned (a column added by a later migration,
filled with its default) is taken as its default, so history that predates a column is
not a finding; any other value is.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from audit.audited import jsonable

CHUNK = 1000
MAX_FINDINGS = 200  # kept in full; the count covers all of them

CHANGED_IN_DB = "changed in the database"
NO_TRAIL = "no event on the trail"
ROW_MISSING = "row missing"
DELETED_ON_TRAIL = "deleted on the trail, present in the table"


@dataclass(frozen=True)
class Finding:
    """One disagreement between a record and its trail."""

    kind: str
    table: str
    model: str
    key: str
    field: str = ""
    row_value: object = None
    trail_value: object = None

    def describe(self) -> str:
        where = f"{self.table} key {self.key}"
        if self.kind == CHANGED_IN_DB:
            return (
                f"{where}: {self.field} is {self.row_value!r} in the row but "
                f"{self.trail_value!r} on the trail ({self.kind})"
            )
        return f"{where}: {self.kind}"


@dataclass
class ReconciliationResult:
    clean: bool = True
    models_checked: int = 0
    rows_checked: int = 0
    events_read: int = 0
    findings_count: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, finding: Finding) -> None:
        self.clean = False
        self.findings_count += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(finding)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["findings"] = [
            {**asdict(f), "row_value": jsonable(f.row_value), "trail_value": f.trail_value}
            for f in self.findings
        ]
        return data

    def summary(self) -> str:
        head = (
            f"{self.rows_checked} rows of {self.models_checked} models against "
            f"{self.events_read} events"
        )
        if self.clean:
            return f"reconciled: {head}, every row as its trail says"
        return f"NOT RECONCILED: {self.findings_count} findings in {head}"


def reconciled_models() -> list:
    """Every concrete audited model (not proxies, not abstract)."""
    from audit.audited import AuditedModel

    return [
        model
        for model in apps.get_models()
        if issubclass(model, AuditedModel) and not model._meta.proxy
    ]


def object_types(model) -> list[str]:
    """The object types of a model's events: its label, and the labels it had before a
    move between apps (`audit_former_object_types` on the model)."""
    return [model._meta.label_lower, *getattr(model, "audit_former_object_types", ())]


class _Comparer:
    """Compares a stored value with a trail value, field by field, as the field reads
    them (so Decimal("60.0") equals "60", and an ISO time equals the stored datetime)."""

    def __init__(self, model):
        self.fields = {
            f.attname: f
            for f in model._meta.concrete_fields
            if f.name not in getattr(model, "audit_exclude", ())
        }

    def _as(self, fld, value):
        if value is None:
            return None
        target = fld.target_field if isinstance(fld, models.ForeignKey) else fld
        if isinstance(target, models.JSONField):
            return jsonable(value)
        try:
            return target.to_python(value)
        except (ValidationError, TypeError, ValueError):
            return jsonable(value)

    def same(self, attname, row_value, trail_value) -> bool:
        fld = self.fields[attname]
        if row_value == trail_value:
            return True
        return self._as(fld, row_value) == self._as(fld, trail_value)

    def default_of(self, attname):
        fld = self.fields[attname]
        return fld.get_default() if fld.has_default() else None


def _replay(events) -> tuple[dict, set, bool]:
    """(state, fields mentioned, deleted) after a record's events in seq order."""
    state: dict = {}
    mentioned: set = set()
    deleted = False
    for action, changes in events:
        if isinstance(changes, str):
            changes = json.loads(changes)
        if action == "delete":
            deleted = True
            continue
        if action == "create":  # a creation lists every field it set: start afresh
            state, mentioned = {}, set()
        deleted = False
        for key, pair in (changes or {}).items():
            if isinstance(pair, list) and len(pair) == 2:
                state[key] = pair[1]
                mentioned.add(key)
    return state, mentioned, deleted


def _events_of(types, ids) -> dict[str, list]:
    from audit.models import AuditEvent

    by_id: dict[str, list] = {}
    rows = (
        AuditEvent.objects.filter(object_type__in=types, object_id__in=ids)
        .order_by("seq")
        .values_list("object_id", "action", "changes")
    )
    for object_id, action, changes in rows:
        by_id.setdefault(object_id, []).append((action, changes))
    return by_id


def _reconcile_model(model, result: ReconciliationResult) -> None:
    from audit.models import AuditEvent

    opts = model._meta
    table, label = opts.db_table, opts.label_lower
    types = object_types(model)
    comparer = _Comparer(model)
    attnames = list(comparer.fields)
    pk_attname = opts.pk.attname
    seen: set[str] = set()
    manager = model._base_manager
    last = None
    while True:
        query = manager.order_by("pk").values(*attnames)
        if last is not None:
            query = query.filter(pk__gt=last)
        rows = list(query[:CHUNK])
        if not rows:
            break
        last = rows[-1][pk_attname]
        keys = [str(row[pk_attname]) for row in rows]
        seen.update(keys)
        trail = _events_of(types, keys)
        for key, row in zip(keys, rows, strict=True):
            result.rows_checked += 1
            events = trail.get(key)
            if not events:
                # Reference rows a data migration entered (the published figures): the
                # migration is their record; a later change through a service is audited
                # and reconciled like any other.
                if not getattr(model, "audit_seeded_by_migration", False):
                    result.add(Finding(NO_TRAIL, table, label, key))
                continue
            result.events_read += len(events)
            state, mentioned, deleted = _replay(events)
            if deleted:
                # Deleted on the trail, yet here: put back (or never really deleted).
                result.add(Finding(DELETED_ON_TRAIL, table, label, key))
                continue
            for attname in attnames:
                row_value = row[attname]
                if attname in mentioned:
                    trail_value = state[attname]
                elif comparer.same(attname, row_value, None) or comparer.same(
                    attname, row_value, comparer.default_of(attname)
                ):
                    continue
                else:
                    trail_value = None
                if not comparer.same(attname, row_value, trail_value):
                    result.add(
                        Finding(CHANGED_IN_DB, table, label, key, attname, row_value, trail_value)
                    )
    # The objects the trail knows that matched no row: deleted on the trail, or missing.
    orphans = []
    ids = (
        AuditEvent.objects.filter(object_type__in=types)
        .order_by()
        .values_list("object_id", flat=True)
        .distinct()
    )
    for object_id in ids.iterator(chunk_size=20_000):
        if object_id not in seen:
            orphans.append(object_id)
    for start in range(0, len(orphans), CHUNK):
        chunk = orphans[start : start + CHUNK]
        for key, events in _events_of(types, chunk).items():
            result.events_read += len(events)
            _, _, deleted = _replay(events)
            if not deleted:
                result.add(Finding(ROW_MISSING, table, label, key))
    result.models_checked += 1


def reconcile(models_to_check=None) -> ReconciliationResult:
    """Compare every audited record with its trail; see the module's docstring."""
    started = time.perf_counter()
    result = ReconciliationResult()
    for model in models_to_check or reconciled_models():
        _reconcile_model(model, result)
    result.seconds = time.perf_counter() - started
    return result


def record_run(result: ReconciliationResult):
    """Store the run's verdict (what the verify endpoint reports). Returns the row."""
    from audit.models import ReconciliationRun

    return ReconciliationRun.objects.create(
        clean=result.clean,
        models_checked=result.models_checked,
        rows_checked=result.rows_checked,
        events_read=result.events_read,
        findings_count=result.findings_count,
        findings=[f.describe() for f in result.findings[:20]],
        seconds=round(result.seconds, 3),
    )


def last_run() -> dict | None:
    """The last recorded run, for the verify endpoint (one indexed query)."""
    from audit.models import ReconciliationRun

    run = ReconciliationRun.objects.order_by("-finished_at", "-id").first()
    if run is None:
        return None
    return {
        "finished_at": run.finished_at,
        "clean": run.clean,
        "rows_checked": run.rows_checked,
        "events_read": run.events_read,
        "findings_count": run.findings_count,
        "findings": run.findings,
        "seconds": run.seconds,
    }
