"""The bedside check before an infusion: the patient's wristband, then every bag's full
code, each refused on the spot with its reason (DESIGN "Bedside check").

The DIN names the batch, not the bag: only the full bag code (DIN, check character,
product code, division) tells two bags of a batch apart, so that is what is compared.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from batches.isbt import is_bag_message, scanned_bag_code
from batches.models import Bag
from batches.rules import bag_unusable_reason
from core.formatting import fmt_time
from dosing.models import BedsideScan, Dose
from dosing.rules.base import stopped_failure

S = Dose.Status


def normalise(code: str) -> str:
    """What a hand-held scanner or a keyboard typed, as the code is stored."""
    return "".join(code.split()).upper()


@dataclass(frozen=True)
class ScanRead:
    """What one scan names: the code as stored, whether it came from a bag label's
    ISBT 128 message (the DataMatrix), and why it could not be read ("" when it could)."""

    code: str
    from_bag_label: bool = False
    unreadable: str = ""


def read_scan(text: str) -> ScanRead:
    """A scan as typed by a hand-held scanner or a keyboard: a plain code (wristband, bag
    code) or a bag label's DataMatrix message (`batches.isbt.scanned_bag_code`)."""
    raw = "".join(text.split())
    if not is_bag_message(raw):
        return ScanRead(raw.upper())
    try:
        return ScanRead(scanned_bag_code(raw), from_bag_label=True)
    except ValueError as error:
        return ScanRead(
            raw,
            from_bag_label=True,
            unreadable=(
                f"The scanned label could not be read ({error}): scan it again or type the "
                "bag's full code."
            ),
        )


@dataclass(frozen=True)
class BedsideCheck:
    """Where the bedside check of a dose stands: the wristband matched, the live bags of
    the dose and which of them matched (since the last wristband match)."""

    wristband_ok: bool
    bags: tuple[Bag, ...]
    matched_codes: frozenset[str]

    @property
    def missing(self) -> list[Bag]:
        return [b for b in self.bags if b.code not in self.matched_codes]

    @property
    def complete(self) -> bool:
        return self.wristband_ok and bool(self.bags) and not self.missing


def bedside_check(dose: Dose) -> BedsideCheck:
    bags = tuple(link.bag for link in dose.dose_bags.filter(live=True).select_related("bag"))
    scans = list(dose.scans.filter(matched=True).order_by("scanned_at", "pk"))
    wristbands = [i for i, s in enumerate(scans) if s.kind == BedsideScan.Kind.WRISTBAND]
    if not wristbands:
        return BedsideCheck(False, bags, frozenset())
    after = scans[wristbands[-1] + 1 :]
    return BedsideCheck(True, bags, frozenset(s.scanned_code for s in after))


def wristband_failure(dose: Dose, code: str) -> str:
    if code == dose.patient.code:
        return ""
    return (
        f"Wrong patient: the wristband reads {code}, but dose {dose.code} is for "
        f"{dose.patient.code}. Stop: do not infuse."
    )


def bag_failure(dose: Dose, code: str, bag: Bag | None, check: BedsideCheck, now) -> str:
    """Why this scanned bag may not be infused as part of this dose now ("" when it may)."""
    if bag is None:
        return f"No bag has the code {code}: scan the bag's DataMatrix or type its full code."
    if bag.code not in {b.code for b in check.bags}:
        return (
            f"Bag {bag.code} is not part of dose {dose.code} (its bags: "
            f"{', '.join(b.code for b in check.bags)}). Do not infuse it."
        )
    if bag.status == Bag.Status.INFUSED:
        return f"Bag {bag.code} has already been infused."
    if dose.use_before is not None and now > dose.use_before:
        return (
            f"Dose {dose.code} was to be infused by {fmt_time(dose.use_before)}: past its "
            "use-before time. Do not infuse; return it to the pharmacy."
        )
    problem = bag_unusable_reason(bag, on=timezone.localdate(now))
    if problem:
        return f"Bag {bag.code}: {problem}"
    if bag.status != Bag.Status.DISPENSED:
        return f"Bag {bag.code} is {bag.get_status_display().lower()}, not dispensed to the ward."
    return ""


def scan_failure(
    dose: Dose, code: str, now: datetime.datetime, *, read: ScanRead | None = None
) -> tuple[str, str, Bag | None]:
    """(kind, refusal, bag) of a scan: the wristband until it matched, then bags.

    `read` (`read_scan`) says whether the code came from a bag label's message: such a
    scan is never taken for a wristband, and an unreadable one is refused as such."""
    read = read or ScanRead(code)
    stopped = stopped_failure(dose)
    if stopped is not None:
        return BedsideScan.Kind.BAG, stopped.message, None
    if dose.status != S.DISPENSED:
        refusal = (
            f"Dose {dose.code} is {dose.get_status_display().lower()}, not dispensed: "
            "nothing to check at the bedside."
        )
        return BedsideScan.Kind.WRISTBAND, refusal, None
    check = bedside_check(dose)
    if not check.wristband_ok:
        if read.from_bag_label:
            refusal = read.unreadable or (
                f"That is a bag's label ({code}): scan the patient's wristband first."
            )
            return BedsideScan.Kind.WRISTBAND, refusal, None
        return BedsideScan.Kind.WRISTBAND, wristband_failure(dose, code), None
    if read.unreadable:
        return BedsideScan.Kind.BAG, read.unreadable, None
    bag = Bag.objects.select_related("batch").filter(code=code).first()
    return BedsideScan.Kind.BAG, bag_failure(dose, code, bag, check, now), bag
