"""Filter helpers shared by every app's FilterSet and the ordering every list uses."""

import datetime

import django_filters
from django import forms
from rest_framework.filters import OrderingFilter


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, its form class made once per FilterSet class.

    django-filter makes a new form class, and a new form field for each filter, on every
    request: about a third of the filtering's time on a page of the API, even without a
    filter in the query. The form class depends only on the declared filters (no filter
    here takes its choices or queryset from the request; one that did would override
    `get_form_class`), and each form still copies its fields, so nothing is shared
    between requests but the class. Date-times are read in the zone active when the
    form is validated, as before.
    """

    def get_form_class(self):
        cls = type(self)
        form_class = cls.__dict__.get("_celltrack_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            cls._celltrack_form_class = form_class
        return form_class


class StableOrderingFilter(OrderingFilter):
    """Ordering chosen by `?ordering=`, always ending in the primary key.

    The trailing `pk` makes the order total, so two rows with the same value never swap
    between pages or between two exports of the same filter.
    """

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        ordering = list(ordering)
        if not any(field.lstrip("-") in {"pk", "id"} for field in ordering):
            descending = ordering[0].startswith("-")
            ordering.append("-pk" if descending else "pk")
        return tuple(ordering)


def batch_code_q(prefix: str, value: str) -> dict:
    """Lookups matching a batch code (DIN + check character) through `prefix`.

    A batch code is its 13-character DIN followed by the ISO 7064 check character; a
    bare DIN matches too.
    """
    value = value.strip().upper()
    lookups = {f"{prefix}din": value[:13]}
    if len(value) > 13:
        lookups[f"{prefix}din_check"] = value[13:]
    return lookups


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error, not silently "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")

    def validate(self, value):
        pass


class BooleanFilter(django_filters.BooleanFilter):
    """A boolean filter that answers 400 to a value other than true/false."""

    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        # A plain text widget: the default ones turn an unknown value into None.
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


# The widest integer every supported database stores (64-bit signed).
MAX_DB_INT = 2**63 - 1


class IntegerRangeField(django_filters.fields.RangeField):
    """A `_min`/`_max` pair of whole numbers within what the database can compare."""

    def __init__(self, *args, **kwargs):
        fields = (
            forms.IntegerField(min_value=0, max_value=MAX_DB_INT),
            forms.IntegerField(min_value=0, max_value=MAX_DB_INT),
        )
        super().__init__(fields, *args, **kwargs)


class IntegerRangeFilter(django_filters.RangeFilter):
    """`<field>_min` / `<field>_max`, inclusive; out-of-range or non-integer values → 400."""

    field_class = IntegerRangeField


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, normalised to UTC before it reaches the database.

    PostgreSQL refuses UTC offsets beyond ±15:59 that ISO 8601 allows (a DataError that
    would abort the transaction); in UTC every valid instant compares the same.
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a date-time within years 1–9999.") from None


class UtcIsoDateTimeRangeField(django_filters.fields.IsoDateTimeRangeField):
    def __init__(self, *args, **kwargs):
        fields = (UtcIsoDateTimeField(), UtcIsoDateTimeField())
        django_filters.fields.RangeField.__init__(self, fields, *args, **kwargs)


class DateTimeRangeFilter(django_filters.IsoDateTimeFromToRangeFilter):
    """`<field>_after` / `<field>_before`, ISO 8601; any valid offset works on every database."""

    field_class = UtcIsoDateTimeRangeField
