"""What the calculator works on and gives: bags, the protocol's range, the course, the plan,
and the arithmetic of cells per kg (whole cells, Decimal kilograms)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import NamedTuple

# A combination of more bags than this is never proposed: at 50–75 ×10⁶ cells a bag, eight
# bags already hold 400 ×10⁶ cells, more than any adult's dose at the protocol's maximum.
MAX_BAGS_PER_DOSE = 8


class BagOption(NamedTuple):
    """What the calculator needs to know of one available bag (a named tuple: a
    hospital's stock is thousands of them, built on every calculation)."""

    code: str
    batch_code: str
    expires_on: datetime.date | None
    cells: int
    volume_ml: Decimal
    pk: int | None = None

    @classmethod
    def from_bag(cls, bag) -> BagOption:
        return cls(
            code=bag.code,
            batch_code=bag.batch.code,
            expires_on=bag.batch.expires_on,
            cells=int(bag.nominal_cells),
            volume_ml=Decimal(bag.volume_ml),
            pk=bag.pk,
        )


@dataclass(frozen=True)
class DoseRange:
    """The protocol's dose settings, in cells per kg."""

    target_cells_per_kg: int
    min_cells_per_kg: int
    max_cells_per_kg: int

    @classmethod
    def from_protocol(cls, protocol) -> DoseRange:
        return cls(
            target_cells_per_kg=protocol.target_cells_per_kg,
            min_cells_per_kg=protocol.min_cells_per_kg,
            max_cells_per_kg=protocol.max_cells_per_kg,
        )


@dataclass(frozen=True)
class DosePlan:
    """The calculation shown before confirming, and what allocation reserves."""

    weight_kg: Decimal
    required_cells: int
    min_cells: int
    max_cells: int
    bags: tuple[BagOption, ...] = field(default_factory=tuple)
    warning: str = ""
    # With a course: how many of its doses the chosen batch's bags can give (this one
    # included, at most `Course.doses`); None without a course.
    doses_possible: int | None = None
    # With no bags at the patient's hospital: the facilities holding suitable released
    # stock, as (facility id, FIN) pairs, where the pharmacy may ask for a shipment.
    stock_elsewhere: tuple[tuple[int, str], ...] = ()

    @property
    def batch_code(self) -> str | None:
        return self.bags[0].batch_code if self.bags else None

    @property
    def total_cells(self) -> int:
        return sum(b.cells for b in self.bags)

    @property
    def total_volume_ml(self) -> Decimal:
        return sum((b.volume_ml for b in self.bags), Decimal("0"))

    @property
    def delivered_cells_per_kg(self) -> int:
        return cells_per_kg(self.total_cells, self.weight_kg)

    @property
    def within_range(self) -> bool:
        return bool(self.bags) and self.min_cells <= self.total_cells <= self.max_cells

    @property
    def bag_codes(self) -> list[str]:
        return [b.code for b in self.bags]


def required_cells(weight_kg: Decimal, target_cells_per_kg: int) -> int:
    """Weight × target, to the nearest whole cell."""
    return int((Decimal(weight_kg) * target_cells_per_kg).quantize(Decimal(1), ROUND_HALF_UP))


def cells_range(weight_kg: Decimal, dose_range: DoseRange) -> tuple[int, int]:
    """The acceptable totals in whole cells: [ceil(w × min), floor(w × max)]."""
    weight = Decimal(weight_kg)
    low = int((weight * dose_range.min_cells_per_kg).to_integral_value(ROUND_CEILING))
    high = int((weight * dose_range.max_cells_per_kg).to_integral_value(ROUND_FLOOR))
    return low, high


def cells_per_kg(cells: int, weight_kg: Decimal) -> int:
    """Delivered dose in cells per kg, to the nearest cell."""
    return int((Decimal(cells) / Decimal(weight_kg)).quantize(Decimal(1), ROUND_HALF_UP))


def is_within_range(cells: int, weight_kg: Decimal, dose_range: DoseRange) -> bool:
    low, high = cells_range(weight_kg, dose_range)
    return low <= cells <= high


@dataclass(frozen=True)
class Course:
    """What the patient's batch must still supply: `doses` doses, this one included (the
    protocol's maximum less the doses already given; below 1 counts as 1), and an expiry on
    or after `until`, the day of the last possible dose (None: expiry not checked). A batch
    that expires before `until` may still give this dose, but it cannot supply the course;
    one without an expiry date cannot supply it either."""

    doses: int
    until: datetime.date | None = None

    def outlasted_by(self, expires_on: datetime.date | None) -> bool:
        return self.until is None or (expires_on is not None and expires_on >= self.until)


Key = tuple[int, int, int]  # least waste: (bags, |total − target|, total); smaller is better
