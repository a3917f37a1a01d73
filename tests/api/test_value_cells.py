"""The shortcuts of core.api.rows and the CSV's column-at-a-time cells answer exactly
what DRF's fields and the row-at-a-time cells do, for every value, odd ones included:
None, naive and out-of-range date-times, zeros of either sign, non-finite decimals,
text that starts a formula."""

import datetime
import decimal
import json
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from batches.api import BagSerializer
from core.api.export import _cell, _column_cells, _text_cell, stream_csv, stream_value_csv
from core.api.rows import ValueRows, _Leaf, _reader
from tests.api.test_safe_output import _bag_out_of_storage

UTC = datetime.UTC
MADRID = ZoneInfo("Europe/Madrid")
D = decimal.Decimal

DATETIMES = [
    datetime.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),  # before the DST change
    datetime.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # no microseconds: none shown
    datetime.datetime(2026, 7, 1, 12, 0, tzinfo=MADRID),  # aware, not UTC
    datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=5))),
    datetime.datetime(2026, 7, 1, 12, 0),  # naive: DRF makes it aware in the zone
    datetime.datetime(1, 1, 1, tzinfo=UTC),
    datetime.datetime.max.replace(tzinfo=UTC),  # out of range once shown in Madrid
    "2026-07-01T12:00:00Z",  # a string is shown as it is
    "=1+1",
]
DECIMALS = [
    D("20.0"), D("20.00"), D("20"), D("-1.5"), D("0.0"), D("-0.0"), D("0"), D("-0"),
    D("0.0"), D("1.25"), D("1.35"), D("-1.25"), D("1E+1"), D("99999.9"), D("123456.7"),
    D("NaN"), D("-NaN"), D("Infinity"), D("-Infinity"), 3, -3, 0.1, 2.5, "7.25", "-0",
]  # fmt: skip
TEXTS = [
    "", "plain", "=1+1", "+1", "-1", "-1.5", "-x", "@SUM(A1)", "\tx", "\rx", "1e5", "'=",
    "'", "é=", 12, -4, True,
]  # fmt: skip


class _SubStr(str):
    def __str__(self):
        return "=shown " + self


def _fields():
    """Fields with a shortcut, in every configuration that changes what they answer."""
    return [
        serializers.CharField(),
        serializers.StringRelatedField(),
        serializers.IntegerField(),
        serializers.BigIntegerField(),
        serializers.BigIntegerField(coerce_to_string=True),
        serializers.ChoiceField(choices=[("a", "A"), ("=b", "=B"), (1, "one"), ("n", 5)]),
        serializers.ChoiceField(choices=[("a", "A"), ("-b", "-B")]),
        serializers.DateTimeField(),
        serializers.DateTimeField(format=None),
        serializers.DateTimeField(format="%Y %H:%M %z"),
        serializers.DateTimeField(format="=%Y"),
        serializers.DateTimeField(default_timezone=UTC),
        serializers.DecimalField(max_digits=6, decimal_places=1),
        serializers.DecimalField(max_digits=6, decimal_places=1, coerce_to_string=False),
        serializers.DecimalField(max_digits=8, decimal_places=2, normalize_output=True),
        serializers.DecimalField(max_digits=None, decimal_places=None),
        serializers.DecimalField(max_digits=6, decimal_places=1, localize=True),
        serializers.FloatField(),
    ]


VALUES = [None, *DATETIMES, *DECIMALS, *TEXTS, _SubStr("x"), "a", "=b", "1", 1, "n", 1.5]


def _answer(function, value):
    """What `function(value)` answers, or the error it raises (type and message): by
    type and repr, as Decimal("-0.0") == Decimal("0") and NaN is no NaN."""
    try:
        answer = function(value)
        return ("value", type(answer), repr(answer))
    except Exception as error:  # noqa: BLE001 - the error is the answer compared
        return ("error", type(error), str(error))


def _drf(field, value):
    return None if value is None else field.to_representation(value)


@pytest.mark.parametrize("zone", ["Europe/Madrid", "UTC", "Atlantic/Canary"])
@pytest.mark.parametrize("index", range(len(_fields())))
def test_each_shortcut_answers_what_the_field_answers(zone, index):
    with timezone.override(zone):
        fast, slow = _fields()[index], _fields()[index]
        reader = _reader(_Leaf("x", (0,), None, fast), ())
        for _ in range(2):  # the second pass answers from what the first one kept
            for value in VALUES:
                assert _answer(reader.read, (value,)) == _answer(lambda v: _drf(slow, v), value), (
                    value
                )


def _slow_cells(reader, rows):
    cell = _text_cell if reader.text else _cell
    return [_answer(lambda row: cell(reader.read(row)), row) for row in rows]


def _fast_cells(reader, rows):
    """The column's cells row by row: one error must not hide the other rows' cells."""
    column = _column_cells(reader)
    return [_answer(lambda row: column([row])[0], row) for row in rows]


@pytest.mark.parametrize("index", range(len(_fields())))
def test_a_column_of_cells_is_each_rows_cell(index):
    with timezone.override("Europe/Madrid"):
        reader = _reader(_Leaf("x", (1,), None, _fields()[index]), ())
        rows = [("other", value) for value in VALUES]
        slow = _slow_cells(reader, rows)

        assert _fast_cells(reader, rows) == slow
        # A whole chunk at once, as the export reads it.
        chunk = [row for row, answer in zip(rows, slow, strict=True) if answer[0] == "value"]
        expected = [answer for answer in slow if answer[0] == "value"]
        cells = _column_cells(reader)(chunk)
        assert [("value", type(cell), repr(cell)) for cell in cells] == expected


def test_a_computed_column_and_one_under_a_null_object_are_each_rows_cell():
    def joined(first, second):
        return None if first is None else f"{first}{second}"

    rows = [(t, s) for t in [None, *TEXTS] for s in ("", "1", None)]
    for guards in ((), (1,)):
        reader = _reader(_Leaf("x", (0, 1), joined, serializers.CharField()), guards)
        assert _fast_cells(reader, rows) == _slow_cells(reader, rows)


@pytest.mark.django_db
def test_the_csv_of_bags_with_odd_text_is_what_the_serializer_made():
    from django.test import RequestFactory

    from batches.api.viewsets import BagViewSet
    from batches.models import Bag

    for reason in ("=1+1", "-1.5", "-x", "@x", "\tx", "\rx", "+", "'", 'a,b\n"c"'):
        _bag_out_of_storage(discard_reason=reason)
    bags = Bag.objects.select_related("batch", "batch__donor", "location").order_by("code")
    request = RequestFactory().get("/api/v1/bags/")
    expected = b"".join(
        stream_csv(bags, BagSerializer, context={"request": request}, filename="b")
        .streaming_content
    )  # fmt: skip
    rows = ValueRows(BagViewSet.value_rows.computed)
    plan = rows.plan(BagSerializer())
    got = b"".join(stream_value_csv(bags, plan.serializer, plan, filename="b").streaming_content)

    assert got == expected
    represented = [plan.represent(row) for row in plan.rows(bags)]
    assert represented == json.loads(json.dumps(BagSerializer(bags, many=True).data))


@pytest.mark.django_db
def test_an_export_of_no_row_is_its_header():
    from django.test import RequestFactory

    from batches.api.viewsets import BagViewSet
    from batches.models import Bag

    request = RequestFactory().get("/api/v1/bags/")
    plan = ValueRows(BagViewSet.value_rows.computed).plan(BagSerializer())
    none = Bag.objects.none()

    got = b"".join(stream_value_csv(none, plan.serializer, plan, filename="b").streaming_content)

    assert got == b"".join(
        stream_csv(none, BagSerializer, context={"request": request}, filename="b")
        .streaming_content
    )  # fmt: skip
    assert got.startswith(b"code,batch,") and got.count(b"\n") == 1
