"""Pick lists: where each bag is stored and the order to take them out in.

Pure (no queries): it works on bags whose `location` was loaded with them
(`select_related("location")`). The order is the walk through the store — site, tank,
rack, box, position — with numbers compared as numbers (box 2 before box 10); a bag with
no recorded position comes last, flagged, so nobody hunts for it in silence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARTS = re.compile(r"(\d+)")

NO_POSITION = "no storage position recorded"


def _natural(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in _PARTS.split(text or "") if p)


@dataclass(frozen=True)
class Pick:
    """One line of a pick list: the step, the bag, and where it is."""

    step: int
    bag: object
    tank: str
    rack: str
    box: str
    position: str
    taken_from: str = ""  # tank/rack/box/position it left storage from, once out

    @property
    def where(self) -> str:
        if not self.tank:
            if self.taken_from:
                return f"out of storage (taken from {self.taken_from})"
            return NO_POSITION
        return f"tank {self.tank} / rack {self.rack} / box {self.box} / position {self.position}"

    @property
    def located(self) -> bool:
        return bool(self.tank)


def pick_key(bag) -> tuple:
    location = bag.location
    if location is None:
        return (1,)
    site = location.facility_id or 0, location.hospital_id or 0
    parts = (location.tank, location.rack, location.box, location.position)
    return (0, site, *(_natural(p) for p in parts))


def pick_list(bags, taken_from: dict | None = None) -> list[Pick]:
    """The bags in the order to pick them, each with its storage position; a bag already
    out of storage shows where it was taken from (`taken_from`: bag pk → position)."""
    taken_from = taken_from or {}
    ordered = sorted(bags, key=lambda b: (pick_key(b), taken_from.get(b.pk, ""), b.code))
    picks = []
    for step, bag in enumerate(ordered, start=1):
        loc = bag.location
        picks.append(
            Pick(
                step=step,
                bag=bag,
                tank=loc.tank if loc else "",
                rack=loc.rack if loc else "",
                box=loc.box if loc else "",
                position=loc.position if loc else "",
                taken_from="" if loc else taken_from.get(bag.pk, ""),
            )
        )
    return picks
