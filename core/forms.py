"""How a page shows a refusal: each message beside the field it names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from django import forms
from django.utils.html import format_html

from core.exceptions import DomainError
from core.formatting import MILLION, millions

# A cell count typed as ×10⁶ at or above this (10¹⁰ cells) is a count of cells typed in
# the wrong unit, never a real quantity of AT-MSC: refused outright, never overridable.
CELLS_MILLION_CEILING = Decimal("10000")


class UnitNumberInput(forms.NumberInput):
    """A number input with its unit written beside it (`<span class="unit">`)."""

    def __init__(self, unit: str, attrs=None):
        super().__init__(attrs)
        self.unit = unit

    def render(self, name, value, attrs=None, renderer=None):
        field = super().render(name, value, attrs, renderer)
        return format_html('{} <span class="unit">{}</span>', field, self.unit)


class MillionCellsField(forms.DecimalField):
    """A cell count, typed in millions (×10⁶, the unit beside the field) as on every
    CellTrack form, cleaned to a whole number of cells. A value implausible by orders of
    magnitude — a count of cells typed as millions, or below one cell per million — is a
    field error, not something to override."""

    def __init__(self, *, label: str, help_text: str = "", **kwargs):
        kwargs.setdefault("initial", None)
        super().__init__(
            label=f"{label} (×10⁶)",
            decimal_places=2,
            help_text=help_text,
            widget=UnitNumberInput("×10⁶", attrs={"step": "0.01", "min": "0"}),
            **kwargs,
        )

    def prepare_value(self, value):
        # Initial data are cells (as stored); what is shown is ×10⁶.
        if isinstance(value, int) and not isinstance(value, bool):
            return millions(value)
        return value

    def clean(self, value):
        number = super().clean(value)
        if number is None:
            return None
        if number >= CELLS_MILLION_CEILING:
            raise forms.ValidationError(
                f"Enter millions of cells, not cells: {millions(int(number))} for "
                f"{int(number):,} cells.",
                code="cells_not_millions",
            )
        if number <= 0:
            raise forms.ValidationError("Enter a cell count above 0 (×10⁶).", code="min_value")
        return int(number * MILLION)


def show_refusal(
    error: DomainError,
    forms_in_page: Sequence[forms.BaseForm],
    aliases: Mapping[str, str] | None = None,
) -> None:
    """Put each of a service's messages next to the field it names (on whichever form of
    the page has that visible field), else at the top of the first form.

    `aliases` maps a service field name to a form field name where they differ.
    """
    aliases = aliases or {}
    for field, message in error.field_messages():
        name = aliases.get(field, field) if field else None
        target = next(
            (
                form
                for form in forms_in_page
                if name in form.fields and not form.fields[name].widget.is_hidden
            ),
            None,
        )
        if target is not None:
            target.add_error(name, message)
        else:
            forms_in_page[0].add_error(None, message)
