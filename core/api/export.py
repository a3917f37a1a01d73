"""CSV export of a collection (`?format=csv`): the same filters, streamed, unpaginated.

The rows come from `queryset.iterator(chunk_size=...)` (prefetches run per chunk) and are
written through `csv.writer` into a pseudo-buffer that hands each line straight to a
`StreamingHttpResponse`, so a million-row export never sits in memory. Nested objects
become dotted columns (`donor.code`); nested lists become one JSON cell. A viewset with
`value_rows` (`core.api.rows`) lists and exports from `values_list()` tuples instead:
the same columns and cells, without a model instance or a serializer per row.
"""

import csv
import io
import json
import re
from collections.abc import Callable
from itertools import islice
from operator import itemgetter

from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

CHUNK_SIZE = 500
# Rows of plain tuples (`core.api.rows`) are small: larger chunks, fewer round trips.
VALUE_CHUNK_SIZE = 2000
LINES_PER_WRITE = 200

# OWASP "CSV injection": a cell starting with one of these is read as a formula by a
# spreadsheet. Such text cells get a leading apostrophe; numbers (serialised as text by the
# API, e.g. a decimal "-1.5") are left as they are, so they stay numbers.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(text: str) -> str:
    """`text` safe to open in a spreadsheet: never the start of a formula."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.match(text):
        return "'" + text
    return text


class CSVRenderer(BaseRenderer):
    """Selects the CSV export for `?format=csv`; the export itself streams (see below)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Lists never reach here (CSVExportMixin streams them); this renders a single
        # object as a two-column table.
        rows = _Echo()
        writer = csv.writer(rows)
        lines = [writer.writerow(["field", "value"])]
        if isinstance(data, dict):
            for key, value in _flatten_value(data, "").items():
                lines.append(writer.writerow([key, value]))
        return "".join(lines).encode(self.charset)


class _Echo:
    """A file-like object whose write() returns what it was given (no buffering)."""

    def write(self, value):
        return value


def _columns(serializer: serializers.Serializer, prefix: tuple = ()) -> list[tuple]:
    """Paths to every scalar column: nested (single) serializers open into their fields."""
    columns = []
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.Serializer):
            columns.extend(_columns(field, (*prefix, name)))
        else:
            columns.append((*prefix, name))
    return columns


def _value_at(data, path: tuple):
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if all(not isinstance(item, (dict, list)) for item in value):
            return neutralise("; ".join(str(item) for item in value))
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str):
        return neutralise(value)
    return value


def _text_cell(value):
    """`_cell` of a value known to be text or None."""
    return "" if value is None else neutralise(value)


def _flatten_value(data: dict, prefix: str) -> dict:
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "changes":
            flat.update(_flatten_value(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = _cell(value)
    return flat


def stream_csv(queryset, serializer_class, *, context: dict, filename: str):
    """A streaming CSV response of every row of `queryset`, one line per record."""
    serializer = serializer_class(context=context)
    columns = _columns(serializer)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow([".".join(path) for path in columns])
        chunk = []
        for obj in queryset.iterator(chunk_size=CHUNK_SIZE):
            chunk.append(obj)
            if len(chunk) == CHUNK_SIZE:
                yield from _chunk_lines(chunk)
                chunk = []
        if chunk:
            yield from _chunk_lines(chunk)

    def _chunk_lines(chunk):
        # Serialised a chunk at a time, so a list serializer can load what the rows
        # share (signatures, say) in one query per chunk.
        for data in serializer_class(chunk, many=True, context=context).data:
            yield writer.writerow([_cell(_value_at(data, path)) for path in columns])

    return _csv_response(rows(), filename)


def stream_value_csv(queryset, serializer, plan, *, filename: str):
    """The same CSV as `stream_csv` from a `core.api.rows` plan: tuples, no objects.

    Rows are written a chunk at a time, a column at a time (`_column_cells`), then
    `writerows` of the chunk: a cProfile of every bag showed the time in one Python call
    per cell and more (read, represent, cell, neutralise), not in csv or the database."""
    columns = _columns(serializer)
    cells = [_column_cells(reader) for reader in plan.readers]

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([".".join(path) for path in columns])
        yield _taken(buffer)
        values = plan.rows(queryset).iterator(chunk_size=VALUE_CHUNK_SIZE)
        while chunk := list(islice(values, LINES_PER_WRITE)):
            writer.writerows(zip(*[column(chunk) for column in cells], strict=True))
            yield _taken(buffer)

    return _csv_response(rows(), filename)


def _taken(buffer: io.StringIO) -> str:
    """What `buffer` holds, leaving it empty."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def _column_cells(reader) -> Callable[[list], list]:
    """`column(chunk)`: the cells of one column for a chunk of rows, each exactly
    `cell(reader.read(row))` (`_text_cell` or `_cell`), with the usual values taken
    without a call per cell: a str that starts no formula, an int, a choice (its cell
    made once), an ISO date-time (it starts with a digit), a finite decimal (a number).
    Anything else is the call."""
    cell = _text_cell if reader.text else _cell
    represent, plain = reader.represent, reader.plain
    if reader.indexes is None:  # under a nested object that may be null
        read = reader.read
        return lambda chunk: [cell(read(row)) for row in chunk]
    getters = [itemgetter(index) for index in reader.indexes]
    if reader.compute is None:
        (get,) = getters

        def values(chunk):
            return map(get, chunk)

    else:
        compute = reader.compute

        def values(chunk):
            return map(compute, *[map(get, chunk) for get in getters])

    if reader.kind == "same" and plain is str:
        return lambda chunk: [
            ""
            if value is None
            else value
            if type(value) is str and value[:1] not in _FORMULA_FIRST
            else cell(represent(value))
            for value in values(chunk)
        ]
    if reader.kind == "same":
        return lambda chunk: [
            "" if value is None else value if type(value) is plain else cell(represent(value))
            for value in values(chunk)
        ]
    if reader.kind == "choice":
        shown = {key: cell(value) for key, value in reader.choices.items()}
        return lambda chunk: [
            ""
            if value is None
            else shown[value]
            if type(value) is str and value in shown
            else cell(represent(value))
            for value in values(chunk)
        ]
    if reader.kind in ("iso", "number"):
        # Shown as represented, never neutralised: an ISO date-time starts with a digit,
        # a finite decimal is a number (NaN and infinities take the call).
        finite_only = reader.kind == "number"
        return lambda chunk: [
            ""
            if value is None
            else represent(value)
            if type(value) is plain and (not finite_only or value.is_finite())
            else cell(represent(value))
            for value in values(chunk)
        ]
    return lambda chunk: [
        "" if value is None else cell(represent(value)) for value in values(chunk)
    ]


def _csv_response(lines, filename: str):
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


class CSVExportMixin:
    """Adds `?format=csv` to a read-only viewset: the filtered list, streamed as CSV.

    Errors (401, 403, 400 for a bad filter) are still answered in JSON, so a script sees
    why an export failed.
    """

    csv_filename = "export"
    # A `core.api.rows.ValueRows`: lists and exports read tuples, not model instances.
    value_rows = None

    def list(self, request, *args, **kwargs):
        if self.value_rows is not None:
            return self._value_list(request)
        if getattr(request.accepted_renderer, "format", None) == "csv":
            queryset = self.filter_queryset(self.get_queryset())
            return stream_csv(
                queryset,
                self.get_serializer_class(),
                context=self.get_serializer_context(),
                filename=self.csv_filename,
            )
        return super().list(request, *args, **kwargs)

    def _value_list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        plan = self.value_rows.plan_for(self.get_serializer_class())
        if getattr(request.accepted_renderer, "format", None) == "csv":
            return stream_value_csv(queryset, plan.serializer, plan, filename=self.csv_filename)
        # The cursor reads its position from the row by the ordering's name.
        names = {name.lstrip("-") for name in (*self.ordering_fields, *self.ordering, "pk")}
        extra = tuple(sorted(names - set(plan.lookups)))
        rows = plan.rows(queryset, extra=extra, named=True)
        page = self.paginate_queryset(rows)
        data = [plan.represent(row) for row in (rows if page is None else page)]
        return Response(data) if page is None else self.get_paginated_response(data)

    def handle_exception(self, exc):
        if getattr(self.request, "accepted_renderer", None) is not None and (
            self.request.accepted_renderer.format == "csv"
        ):
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
