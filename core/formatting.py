"""How numbers and times read, the same on pages, admin, API and documents.

Cell counts are stored as integers of cells; people read and type them as ×10⁶. Times are
stored in UTC and read in the current time zone, ISO style with a 24-hour clock.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

MILLION = 1_000_000
EMPTY = "—"


def fmt_cells(cells: int | None) -> str:
    """Cells as ×10⁶ with two decimals, the way the ward reads them: "62.50×10⁶"."""
    if cells is None:
        return EMPTY
    return f"{Decimal(cells) / Decimal(MILLION):.2f}×10⁶"


def millions(cells: int | None) -> str:
    """A cell count as people type it: 60000000 → "60", 62500000 → "62.5" (×10⁶)."""
    if cells is None:
        return EMPTY
    return plain_decimal(Decimal(cells) / MILLION)


def plain_decimal(value: Decimal | None) -> str:
    """A decimal without exponent or trailing zeros: 70, 0.5, 1000 (never 7E+1)."""
    return "" if value is None else format(value.normalize(), "f")


def fmt_time(moment: datetime.datetime | None) -> str:
    """A stored (UTC) time as the user reads it: local, "2026-05-01 10:28". The zone is
    named once per page (`local_times_note`), never per time."""
    if moment is None:
        return EMPTY
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def local_times_note() -> str:
    return f"Times are local ({timezone.get_current_timezone_name()})."
