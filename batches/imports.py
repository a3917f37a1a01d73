"""Results from a file (CSV or XLSX): read, checked row by row, previewed, then written
in one transaction through `services.record_results` — the manual entry's service.

The file is only parsed here: nothing is saved until every row is valid and the user
confirms. Columns (header row, any order, case-insensitive): batch code, specification
item, value, unit, method/instrument, date measured (see docs/results-import.md).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from dataclasses import dataclass, field

from django.db import transaction

from batches import services
from batches.models import AssayMethod, Batch, ReleaseCheck
from batches.rules import evaluate_check
from core.exceptions import DomainError

COLUMNS = {
    "batch": ("batch code", "batch"),
    "item": ("specification item", "item", "parameter"),
    "value": ("value", "result"),
    "unit": ("unit",),
    "method": ("method/instrument", "method", "instrument", "method / instrument"),
    "measured_on": ("date measured", "measured on", "date"),
}
MAX_ROWS = 2000


class ImportFileError(DomainError):
    """The file cannot be read as a results table at all (no row is judged)."""


@dataclass
class Row:
    """One data row of the file, as read and as judged."""

    number: int  # the row's number in the file (the header is row 1)
    raw: dict
    batch: Batch | None = None
    result: services.Result | None = None
    method: AssayMethod | None = None
    passed: bool | None = None
    correction: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass
class Preview:
    name: str
    checksum: str
    rows: list[Row]

    @property
    def errors(self) -> list[str]:
        return [f"Row {row.number}: {error}" for row in self.rows for error in row.errors]

    @property
    def source(self) -> str:
        return f"imported from {self.name} (SHA-256 {self.checksum})"


def checksum(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _table_csv(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("The CSV file is not UTF-8 text.") from None
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text), dialect))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _table_xlsx(content: bytes) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportFileError(
            "XLSX files cannot be read on this server (openpyxl is not installed): "
            "save the sheet as CSV."
        ) from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises several kinds for a file that is not a workbook
        raise ImportFileError("The file is not a readable XLSX workbook.") from None
    sheet = book.worksheets[0]
    return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def read_table(name: str, content: bytes) -> list[list[str]]:
    lower = name.lower()
    if lower.endswith(".csv"):
        return _table_csv(content)
    if lower.endswith(".xlsx"):
        return _table_xlsx(content)
    raise ImportFileError("Upload a .csv or .xlsx file.")


def _header(cells: list[str]) -> dict[str, int]:
    names = [(c or "").strip().casefold() for c in cells]
    found, missing = {}, []
    for key, aliases in COLUMNS.items():
        index = next((names.index(a) for a in aliases if a in names), None)
        if index is None:
            missing.append(aliases[0])
        else:
            found[key] = index
    if missing:
        raise ImportFileError(
            f"The header row lacks the column(s): {', '.join(missing)}. Expected: "
            + ", ".join(a[0] for a in COLUMNS.values())
            + "."
        )
    return found


def _date(raw: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None


def preview(name: str, content: bytes, *, user, reason: str = "") -> Preview:
    """Every row of the file judged, nothing written: its pass/fail by the check's rule
    and each error — unknown batch (or one the user may not see), unknown item, unknown
    method, unit mismatch, value outside the method's reportable range, the same batch
    and item twice, a change to a stored result without a reason, a bad number or
    date."""
    table = [r for r in read_table(name, content) if any((c or "").strip() for c in r)]
    if not table:
        raise ImportFileError("The file is empty.")
    columns = _header(table[0])
    if len(table) - 1 > MAX_ROWS:
        raise ImportFileError(f"At most {MAX_ROWS} rows per file.")
    codes = {}
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        raw = {key: (cells[i] if i < len(cells) else "").strip() for key, i in columns.items()}
        rows.append(Row(number, raw))
        codes.setdefault(raw["batch"].upper(), None)

    batches = _batches(codes, user)
    methods = {m.name.casefold(): m for m in AssayMethod.objects.all()}
    items = _items({b.specification_id for b in batches.values()})
    stored = {
        (c.batch_id, c.item_id): c
        for c in ReleaseCheck.objects.filter(batch__in=list(batches.values()))
    }
    seen = {}
    for row in rows:
        _judge(row, batches, items, methods, stored, seen, reason)
    return Preview(name=name, checksum=checksum(content), rows=rows)


def _batches(codes, user) -> dict[str, Batch]:
    """The batches the file names that `user` may see, by code (DIN + check)."""
    dins = {code[:13] for code in codes if code}
    found = {}
    for batch in (
        Batch.objects.for_user(user)
        .filter(din__in=dins)
        .select_related("specification", "procurement")
    ):
        found[batch.code.upper()] = batch
        found.setdefault(batch.din.upper(), batch)
    return found


def _items(spec_ids):
    from batches.models import SpecificationItem

    items = {}
    for item in SpecificationItem.objects.filter(specification_id__in=spec_ids):
        items[(item.specification_id, item.parameter.casefold())] = item
    return items


def _judge(row: Row, batches, items, methods, stored, seen, reason: str) -> None:
    raw, errors = row.raw, row.errors
    batch = batches.get(raw["batch"].upper())
    if batch is None:
        errors.append(f"unknown batch {raw['batch'] or '(empty)'}.")
        return
    row.batch = batch
    item = items.get((batch.specification_id, raw["item"].casefold()))
    if item is None:
        errors.append(
            f"unknown item {raw['item'] or '(empty)'} for {batch.code} "
            f"(specification {batch.specification})."
        )
        return
    key = (batch.pk, item.pk)
    if key in seen:
        errors.append(f"{batch.code} {item.parameter} is also on row {seen[key]}.")
    else:
        seen[key] = row.number
    method = methods.get(raw["method"].casefold())
    if method is None:
        errors.append(f"unknown method/instrument {raw['method'] or '(empty)'}.")
    row.method = method
    if raw["unit"] != item.unit:
        errors.append(
            f"unit {raw['unit'] or '(none)'} does not match {item.parameter}'s unit "
            f"{item.unit or '(none)'}."
        )
    elif method is not None and method.unit != item.unit:
        errors.append(
            f"method {method.name} reports in {method.unit or '(no unit)'}, not "
            f"{item.unit or '(no unit)'}."
        )
    try:
        value, text = services.value_of(item, raw["value"])
    except DomainError as error:
        errors.append(error.messages[0])
        return
    if value is None and not text:
        errors.append("no value.")
        return
    if method is not None and method.out_of_range(value):
        errors.append(
            f"value {raw['value']} is outside {method.name}'s reportable range "
            f"({method.reportable_range})."
        )
    measured_on = _date(raw["measured_on"])
    if measured_on is None:
        errors.append(f"date measured {raw['measured_on'] or '(empty)'} is not YYYY-MM-DD.")
        return
    problem = services.tested_on_problem(batch, item, measured_on)
    if problem:
        errors.append(problem)
        return
    row.result = services.Result(item, value, text, measured_on)
    row.passed = evaluate_check(item, value, text)
    check = stored.get(key)
    row.correction = services.is_correction(check, row.result)
    if row.correction and not reason.strip():
        errors.append(
            f"changes the stored result of {batch.code} {item.parameter}; give a reason "
            "for the correction."
        )


@transaction.atomic
def import_results(preview_: Preview, *, actor, reason: str = "") -> list[ReleaseCheck]:
    """Write a previewed file with no error: one transaction, each batch's results
    through `services.record_results` (one audit event per check, the file's name and
    checksum in each event's reason). Any refusal rolls back the whole file."""
    if preview_.errors:
        raise ImportFileError(preview_.errors)
    by_batch: dict[int, tuple[Batch, list]] = {}
    for row in preview_.rows:
        by_batch.setdefault(row.batch.pk, (row.batch, []))[1].append(row.result)
    saved = []
    for batch, results in by_batch.values():
        saved += services.record_results(
            batch, results, actor=actor, reason=reason, source=preview_.source
        )
    return saved
