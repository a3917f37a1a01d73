"""Read-only rows without model instances: `values_list()` and each field's own output.

Profiling a page of 50 bags and the CSV of every bag showed two thirds of the time in
building model instances (`Model.__init__`, `from_db` and the audit snapshot every audited
row takes) and in DRF's per-object serializer machinery (`get_attribute`, the field
loop), for rows that are only read. A viewset declaring `value_rows` (a `ValueRows`)
instead fetches the serializer's columns with one `values_list()` and turns each value
into its representation with the serializer's own bound field (`to_representation`):
the same JSON, the same CSV, the same OpenAPI schema, without an object per row.

Columns are found from the serializer: a field whose `source` walks concrete model
fields (`batch.donor.code`) is read by its lookup (`batch__donor__code`); a property or a
`__str__` is declared as a `Computed` from the lookups it is made of. A serializer with a
column that is neither (a nested list, a method field) cannot be declared.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings


@dataclass(frozen=True)
class Computed:
    """A column made from `lookups` by `compute(*values)` (None in, None out unless the
    function says otherwise), e.g. a batch code from its DIN and check character."""

    lookups: tuple[str, ...]
    compute: Callable


def _model_lookup(model, attrs: list[str], *, relation: bool = False) -> str | None:
    """`attrs` as an ORM lookup when each step is a concrete field, else None; with
    `relation`, the last step must be a foreign key (its id tells a null object)."""
    parts = []
    for index, attr in enumerate(attrs):
        try:
            field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return None
        if not field.concrete:
            return None
        parts.append(attr)
        if index < len(attrs) - 1:
            if not field.is_relation or field.many_to_many:
                return None
            model = field.related_model
        elif field.is_relation != relation or field.many_to_many:
            return None  # a related object shown as a value: declare how (Computed)
    return "__".join(parts)


@dataclass(frozen=True)
class _Leaf:
    name: str
    indexes: tuple[int, ...]
    compute: Callable | None
    field: serializers.Field


@dataclass(frozen=True)
class _Nested:
    name: str
    present: int  # index of the relation's id: None means the nested object is null
    children: tuple


class ValueRows:
    """The plan of one serializer's rows over `values_list()`: `plan(serializer)` builds
    one, `plan_for(serializer_class)` keeps one per serializer class and time zone."""

    def __init__(self, computed: dict[str, Computed] | None = None):
        self.computed = computed or {}
        self._plans: dict[tuple, _Plan] = {}

    def plan_for(self, serializer_class: type[serializers.Serializer]) -> _Plan:
        """The plan of `serializer_class` in the active time zone, built once per process
        and zone: binding the serializer's fields took as long as representing a page of
        50 rows. The plan's serializer has no context, so no request is kept: what a plan
        answers depends on nothing of the request but the zone its date-times are shown
        in, since every column is a model field, a nested serializer of them or a
        `Computed` of them (`plan` refuses the rest, such as method fields and
        hyperlinks, which read the request)."""
        key = (serializer_class, timezone.get_current_timezone())
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self.plan(serializer_class())
        return plan

    def plan(self, serializer: serializers.Serializer) -> _Plan:
        lookups: list[str] = []

        def index_of(lookup: str) -> int:
            if lookup not in lookups:
                lookups.append(lookup)
            return lookups.index(lookup)

        def walk(ser, model, prefix_attrs: list[str], prefix_name: str) -> tuple:
            nodes = []
            for name, field in ser.fields.items():
                dotted = f"{prefix_name}{name}"
                attrs = [*prefix_attrs, *field.source_attrs]
                if dotted in self.computed:
                    declared = self.computed[dotted]
                    indexes = tuple(index_of(lookup) for lookup in declared.lookups)
                    nodes.append(_Leaf(name, indexes, declared.compute, field))
                elif isinstance(field, serializers.Serializer):
                    relation = _model_lookup(model, attrs, relation=True)
                    if relation is None:
                        raise ImproperlyConfigured(f"{dotted}: not a relation of {model}")
                    children = walk(field, model, attrs, f"{dotted}.")
                    nodes.append(_Nested(name, index_of(relation), children))
                else:
                    lookup = _model_lookup(model, attrs)
                    if lookup is None:
                        raise ImproperlyConfigured(
                            f"{dotted} is not a model field: declare it as a Computed"
                        )
                    nodes.append(_Leaf(name, (index_of(lookup),), None, field))
            return tuple(nodes)

        nodes = walk(serializer, serializer.Meta.model, [], "")
        return _Plan(serializer, nodes, lookups)


# Decimals a column shows, kept per field: a column of volumes repeats a few hundred values.
DECIMAL_MEMO_SIZE = 4096


@dataclass(frozen=True)
class Reader:
    """How a plan reads one leaf: `read(row)` is its representation (None for null).

    When no nested object that may be null is involved, `indexes` are the values of the
    row it reads and `compute` (None: the one value itself) makes its value from them:
    then `read(row)` is None for a None value and `represent(value)` otherwise, so an
    export may read a chunk of rows a column at a time. `kind` says what `represent`
    answers for a value of `plain` type: "same" the value itself (str of a str, int of
    an int), "iso" ISO 8601 text (which starts with a digit), "number" a number or its
    text for a finite value, "choice" `choices[value]`, "value" anything.
    """

    read: Callable
    text: bool
    represent: Callable
    kind: str = "value"
    plain: type | None = None
    choices: dict | None = None
    indexes: tuple[int, ...] | None = None
    compute: Callable | None = None


def _fast_representation(field) -> Reader:
    """The field's `to_representation`, or an equivalent without its overhead, whether it
    answers text (a CSV cell that may need neutralising) and what it answers (`Reader`);
    `read` and where it reads are left for `_reader`. Every shortcut answers exactly what DRF's
    own method does, for every value: an odd one (a naive or string date-time, a zero, a
    float) goes to the field's method."""
    kind = type(field)
    if kind in (serializers.CharField, serializers.StringRelatedField):
        # CharField.to_representation is str()
        return Reader(_unread, True, str, "same", str)
    if kind is serializers.ChoiceField:
        choices = field.choice_strings_to_values
        text = all(isinstance(value, str) for value in choices.values())

        def represent(value):
            return choices.get(str(value), value)

        return Reader(_unread, text, represent, "choice", str, dict(choices))
    if kind is serializers.IntegerField or (
        kind is serializers.BigIntegerField
        and not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    ):
        return Reader(_unread, False, int, "same", int)
    if kind is serializers.DateTimeField:
        return Reader(_unread, False, *_datetime_representation(field))
    if kind is serializers.DecimalField:
        return Reader(_unread, False, *_decimal_representation(field))
    if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
        # The request's zone, read once rather than once per row.
        field.timezone = field.default_timezone()
    return Reader(_unread, False, field.to_representation)


def _datetime_representation(field) -> tuple[Callable, str, type | None]:
    """DRF's `DateTimeField.to_representation` in the field's zone, read once: for an
    aware datetime in ISO 8601 format, `astimezone(zone).isoformat()` with "Z" for UTC,
    as `enforce_timezone` and DRF's ISO branch do."""
    if not hasattr(field, "timezone"):
        # The request's zone, read once rather than once per row.
        field.timezone = field.default_timezone()
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    zone = field.timezone
    if output_format is None or output_format.lower() != ISO_8601 or zone is None:
        return field.to_representation, "value", None
    slow = field.to_representation

    def represent(value):
        # The database's loader answers UTC; any other zone (or none: a naive value,
        # made aware and checked by DRF) takes DRF's own path.
        if type(value) is not datetime.datetime or value.tzinfo is not datetime.UTC:
            return slow(value)
        try:
            text = value.astimezone(zone).isoformat()
        except OverflowError:
            return slow(value)  # DRF's "Datetime value out of range."
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return represent, "iso", datetime.datetime


def _decimal_representation(field) -> tuple[Callable, str, type | None]:
    """DRF's `DecimalField.to_representation`, kept per value when that is exact: with a
    fixed number of places, equal Decimals quantize alike, except that 0 and -0 are equal
    and show apart ("0.0", "-0.0"), so zeros are not kept. A localized field reads the
    active language: never kept. For a finite Decimal DRF answers the quantized Decimal
    or its `f` format: a number."""
    slow = field.to_representation
    if field.decimal_places is None or field.localize:
        return slow, "value", None
    shown: dict[decimal.Decimal, object] = {}

    def represent(value):
        if type(value) is not decimal.Decimal or not value:
            return slow(value)
        text = shown.get(value)
        if text is None:
            text = slow(value)
            if len(shown) < DECIMAL_MEMO_SIZE:
                shown[value] = text
        return text

    return represent, "number", decimal.Decimal


def _unread(row):
    raise NotImplementedError  # replaced by `_reader`


def _reader(leaf: _Leaf, guards: tuple[int, ...]) -> Reader:
    """The leaf's `Reader`: `read(row)` its representation (None under a null nested
    object)."""
    fast = _fast_representation(leaf.field)
    represent = fast.represent
    if leaf.compute is None and not guards:
        # Most columns: one value of the row, no nested object that may be null.
        only = leaf.indexes[0]

        def read_one(row):
            value = row[only]
            return None if value is None else represent(value)

        return replace(fast, read=read_one, indexes=(only,))
    if leaf.compute is None:
        index = leaf.indexes[0]

        def get(row):
            return row[index]

    else:
        compute, indexes = leaf.compute, leaf.indexes

        def get(row):
            return compute(*[row[i] for i in indexes])

    def read(row):
        for guard in guards:
            if row[guard] is None:
                return None
        value = get(row)
        return None if value is None else represent(value)

    if guards:
        return replace(fast, read=read)
    return replace(fast, read=read, indexes=leaf.indexes, compute=leaf.compute)


class _Plan:
    def __init__(self, serializer: serializers.Serializer, nodes: tuple, lookups: list[str]):
        self.serializer = serializer
        self.nodes = nodes
        self.lookups = lookups
        self.readers: list[Reader] = []  # every leaf, in CSV column order
        self.tree = self._compile(nodes, ())

    def _compile(self, nodes, guards) -> tuple:
        tree = []
        for node in nodes:
            if isinstance(node, _Leaf):
                reader = _reader(node, guards)
                self.readers.append(reader)
                tree.append((node.name, reader.read, None))
            else:
                inner = (*guards, node.present)
                tree.append((node.name, node.present, self._compile(node.children, inner)))
        return tuple(tree)

    def rows(self, queryset, *, extra: tuple[str, ...] = (), named: bool = False):
        """`queryset` as tuples of this plan's lookups, then `extra` (the cursor's)."""
        return queryset.values_list(*self.lookups, *extra, named=named)

    def represent(self, row, tree=None) -> dict:
        """One row as the serializer would have shown it."""
        data = {}
        for name, read, children in self.tree if tree is None else tree:
            if children is None:
                data[name] = read(row)
            elif row[read] is None:
                data[name] = None
            else:
                data[name] = self.represent(row, children)
        return data
