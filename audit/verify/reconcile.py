"""Reconciliation: do the records say what the trail says they say?

The hash chain proves that nobody changed the trail; it says nothing of a record changed
with SQL behind the application's back (a dose's cells, a weight, an adverse event's
grade). `reconcile()` replays the trail of every audited model and compares:

- every current row with the after-state of its events (creation, then each change):
  a field whose stored value differs is a finding ("changed in the database");
- every row has events ("no event on the trail": inserted by SQL);
- every object whose last event is not a deletion still exists ("row missing").

It is streamed, one model at a time, in two queries: its rows and the events of its
object types, each in the order of their key as text (by length, then code point, so
integer keys come in numeric order), merged as they arrive. Memory holds one fetch of
each and one object's events, never a model's trail. On PostgreSQL both are read in one
REPEATABLE READ snapshot, so a change committed during the run is not a finding.

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
from django.db import connection, models, transaction
from django.db.models.functions import Cast, Collate, Length

from audit.audited import jsonable
from audit.verify.rows import no_server_cursors

CHUNK = 2000  # rows, and events, fetched at a time
MAX_FINDINGS = 200  # kept in full; the count covers all of them

try:
    from psycopg import adapters as _psycopg_adapters
    from psycopg.postgres import types as _pg_types
    from psycopg.pq import Format as _Format

    _TIMESTAMPTZ_LOADER = _psycopg_adapters.get_loader(_pg_types["timestamptz"].oid, _Format.TEXT)
except ImportError:  # no psycopg (SQLite only)
    _TIMESTAMPTZ_LOADER = None

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
        if row_value == trail_value or jsonable(row_value) == trail_value:
            return True  # the fast path: the value as the trail writes it
        fld = self.fields[attname]
        return self._as(fld, row_value) == self._as(fld, trail_value)

    def default_of(self, attname):
        fld = self.fields[attname]
        return fld.get_default() if fld.has_default() else None


_DECODER = json.JSONDecoder()


def _decoded(text: str):
    """`json.loads` without its whitespace scans (stored changes are canonical JSON)."""
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        return json.loads(text)  # raises as json.loads does
    return value if end == len(text) else json.loads(text)


def _replay(events) -> tuple[dict, bool]:
    """(state, deleted) after a record's events in seq order; the state's keys are the
    fields its events mentioned since its last creation."""
    state: dict = {}
    deleted = False
    for action, changes in events:
        if isinstance(changes, str):
            changes = _decoded(changes)
        if action == "delete":
            deleted = True
            continue
        if action == "create":  # a creation lists every field it set: start afresh
            state = {}
        deleted = False
        for key, pair in (changes or {}).items():
            if isinstance(pair, list) and len(pair) == 2:
                state[key] = pair[1]
    return state, deleted


def _order(key: str) -> tuple[int, str]:
    """The order in which both streams arrive: by length, then by code point (so integer
    keys come in numeric order, and any other text in one fixed order)."""
    return len(key), key


def _collation() -> str:
    """Code-point order of text: PostgreSQL's "C" (the database's own collation may be
    a language's), SQLite's default BINARY (UTF-8 bytes, i.e. code points)."""
    return "C" if connection.vendor == "postgresql" else "BINARY"


def _rows(model, attnames):
    """Every row of the model (`_base_manager`: none hidden) as value tuples, converted
    as the fields read them, in `_order` of their key."""
    key = Cast("pk", output_field=models.CharField())
    queryset = (
        model._base_manager.annotate(_reconcile_key=key)
        .order_by(Length("_reconcile_key"), Collate("_reconcile_key", _collation()))
        .values_list(*attnames)
    )
    if connection.vendor != "postgresql" or no_server_cursors():
        yield from queryset.iterator(chunk_size=CHUNK)
        return
    # The driver's own server-side cursor with psycopg's timestamp loader (C where
    # installed): Django's is a pure-Python subclass, more than half of reading the rows.
    # The fields' converters (JSON) are then Django's, as the queryset would apply them.
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    cursor = connection.connection.cursor(name=f"audit_reconcile_{model._meta.db_table}")
    cursor.adapters.register_loader("timestamptz", _TIMESTAMPTZ_LOADER)
    try:
        with connection.wrap_database_errors:
            cursor.execute(sql, params)
            chunks = iter(lambda: cursor.fetchmany(CHUNK), [])
            yield from compiler.results_iter(results=chunks, tuple_expected=True)
    finally:
        cursor.close()


def _trail(types):
    """The events of `types` as (object_id, [(action, changes text), …] in seq order), one
    object after another in `_order` of its id: one streamed query (a server-side cursor
    on PostgreSQL), so memory holds one object's events."""
    from audit.models import AuditEvent

    quote = connection.ops.quote_name
    table = quote(AuditEvent._meta.db_table)
    sql = (
        f"SELECT object_id, action, changes FROM {table} "  # noqa: S608 (names, not input)
        f"WHERE object_type IN ({', '.join(['%s'] * len(types))}) "
        f'ORDER BY length(object_id), object_id COLLATE "{_collation()}", seq'
    )
    current, events = None, []
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, list(types))
        while batch := cursor.fetchmany(CHUNK):
            for object_id, action, changes in batch:
                if object_id != current:
                    if events:
                        yield current, events
                    current, events = object_id, []
                events.append((action, changes))
    if events:
        yield current, events


class _ModelCheck:
    """One model's comparison of rows with their trail (see `_reconcile_model`)."""

    def __init__(self, model, result: ReconciliationResult):
        opts = model._meta
        self.table, self.label = opts.db_table, opts.label_lower
        self.comparer = _Comparer(model)
        self.attnames = list(self.comparer.fields)
        self.pk_index = self.attnames.index(opts.pk.attname)
        self.seeded = getattr(model, "audit_seeded_by_migration", False)
        self.result = result

    def row_without_trail(self, key: str) -> None:
        self.result.rows_checked += 1
        # Reference rows a data migration entered (the published figures): the migration
        # is their record; a later change through a service is audited and reconciled
        # like any other.
        if not self.seeded:
            self.result.add(Finding(NO_TRAIL, self.table, self.label, key))

    def row_with_trail(self, key: str, row, events) -> None:
        result, comparer = self.result, self.comparer
        result.rows_checked += 1
        result.events_read += len(events)
        state, deleted = _replay(events)
        if deleted:
            # Deleted on the trail, yet here: put back (or never really deleted).
            result.add(Finding(DELETED_ON_TRAIL, self.table, self.label, key))
            return
        for attname, row_value in zip(self.attnames, row, strict=True):
            if attname in state:
                trail_value = state[attname]
                if row_value == trail_value or comparer.same(attname, row_value, trail_value):
                    continue
            elif (
                row_value is None
                or comparer.same(attname, row_value, None)
                or comparer.same(attname, row_value, comparer.default_of(attname))
            ):
                continue
            else:
                trail_value = None
            result.add(
                Finding(CHANGED_IN_DB, self.table, self.label, key, attname, row_value,
                        trail_value)
            )  # fmt: skip

    def trail_without_row(self, key: str, events) -> None:
        """An object of the trail with no row: deleted on the trail, or missing."""
        self.result.events_read += len(events)
        _, deleted = _replay(events)
        if not deleted:
            self.result.add(Finding(ROW_MISSING, self.table, self.label, key))


def _reconcile_model(model, result: ReconciliationResult) -> None:
    """Merge the model's rows with its trail, both streamed in `_order` of their key: a
    row and the events of its key are compared; a row alone has no trail; events alone
    are a deleted (or missing) row."""
    check = _ModelCheck(model, result)
    rows = _rows(model, check.attnames)
    trail = _trail(object_types(model))
    pk_index = check.pk_index
    row = next(rows, None)
    group = next(trail, None)
    while row is not None or group is not None:
        key = None if row is None else str(row[pk_index])
        if group is None or (key is not None and _order(key) < _order(group[0])):
            check.row_without_trail(key)
            row = next(rows, None)
        elif key is None or _order(key) > _order(group[0]):
            check.trail_without_row(*group)
            group = next(trail, None)
        else:
            check.row_with_trail(key, row, group[1])
            row, group = next(rows, None), next(trail, None)
    result.models_checked += 1


def reconcile(models_to_check=None) -> ReconciliationResult:
    """Compare every audited record with its trail; see the module's docstring."""
    started = time.perf_counter()
    result = ReconciliationResult()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # One snapshot for every model's rows and events: a change committed during a
            # long run is either wholly seen (row and event) or not at all.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
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
