"""ISBT 128-style identifiers: Donation Identification Number and its check character,
and reading a bag's scanned symbols back into its full code.

The DIN is 13 characters: a 5-character facility identification number (FIN), a 2-digit
year and a 6-digit sequence. Its check character is ISO 7064 mod 37-2 computed over those
13 characters, drawn from 0-9, A-Z and '*'.

The reading side of the label's data structures (ICCBBA ST-001; `labels.isbt` writes
them and documents each) lives here, below `dosing`, so that the bedside scan reads a
bag's DataMatrix message as well as its typed code: `scanned_bag_code`.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
FIN_RE = re.compile(r"^[A-Z0-9]{5}$")
DIN_RE = re.compile(r"^[A-Z0-9]{5}\d{2}\d{6}$")


def iso7064_mod37_2(text: str) -> str:
    """ISO/IEC 7064 MOD 37-2 check character of `text` (0-9 and A-Z)."""
    total = 0
    for char in text.upper():
        value = ALPHABET.index(char)
        if value > 35:
            raise ValueError(f"{char!r} is not allowed in a DIN")
        total = ((total + value) * 2) % 37
    return ALPHABET[(38 - total) % 37]


def make_din(fin: str, year: int, sequence: int) -> str:
    if not FIN_RE.match(fin):
        raise ValueError(f"facility identification number {fin!r} must be 5 letters/digits")
    if not 0 <= sequence <= 999_999:
        raise ValueError("DIN sequence must be 0–999999")
    return f"{fin}{year % 100:02d}{sequence:06d}"


def is_valid_din(din: str, check: str) -> bool:
    return bool(DIN_RE.match(din)) and iso7064_mod37_2(din) == check


# Data identifiers of the structures a bag's symbols carry (see `labels.isbt`).
DIN_DI = "="
PRODUCT_DI = "=<"
EXPIRY_DATE_DI = "=>"
EXPIRY_DATETIME_DI = "&>"
COMPOUND_DI = "=+"
# The time of day a batch's expiry date ends (structure 005's hh mm).
END_OF_DAY = datetime.time(23, 59)
UNDIVIDED = "00"


@dataclasses.dataclass(frozen=True)
class BagIdentity:
    """What a bag's symbols carry: DIN and check character, product, division, expiry."""

    din: str
    check: str
    product: str  # product description code + type of donation: S0412V
    division: str
    expires_at: datetime.datetime | None = None  # naive: the facility's local time

    @property
    def flags(self) -> str:
        return checksum_flags(self.din)

    @property
    def batch_code(self) -> str:
        return f"{self.din}{self.check}"

    @property
    def product_code(self) -> str:
        """The stored product code: the division positions undivided (00)."""
        return f"{self.product}{UNDIVIDED}"

    @property
    def bag_code(self) -> str:
        return f"{self.batch_code}-{self.product_code}-{self.division}"


def checksum_flags(din: str) -> str:
    """Type 3 DIN flag characters: 60 + the ISO 7064 mod 37-2 value of the DIN."""
    return f"{60 + ALPHABET.index(iso7064_mod37_2(din)):02d}"


def check_from_flags(flags: str) -> str | None:
    """The check character Type 3 flags carry; None for other flags (00 = no flag)."""
    if not flags.isdigit() or not 60 <= int(flags) <= 96:
        return None
    return ALPHABET[int(flags) - 60]


def from_cyyjjj(text: str) -> datetime.date:
    year = 2000 + int(text[0]) * 100 + int(text[1:3])
    return datetime.date(year, 1, 1) + datetime.timedelta(days=int(text[3:6]) - 1)


# Reading symbols back: (data identifier, content length) of the structures a bag's
# symbols use. 001's identifier is `=` followed by the DIN's first character.
_LENGTHS = {COMPOUND_DI: 5, PRODUCT_DI: 8, EXPIRY_DATE_DI: 6, EXPIRY_DATETIME_DI: 10}


def parse_structures(text: str) -> dict[str, str]:
    """Split a scanned ISBT 128 string into {data identifier: content}; 001 is `=`.

    Raises `ValueError` on an unknown identifier, a short structure, or a compound message
    whose count does not match."""
    found: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        di = text[pos : pos + 2]
        if len(di) == 2 and di[0] == DIN_DI and di[1].isalnum():
            key, start, length = DIN_DI, pos + 1, 15
        elif di in _LENGTHS:
            key, start, length = di, pos + 2, _LENGTHS[di]
        else:
            raise ValueError(f"unknown ISBT 128 data identifier {di!r} at {pos}")
        content = text[start : start + length]
        if len(content) != length:
            raise ValueError(f"data structure {key!r} is truncated")
        if key in found:
            raise ValueError(f"data structure {key!r} appears twice")
        found[key] = content
        pos = start + length
    compound = found.pop(COMPOUND_DI, None)
    if compound is not None and int(compound[:2]) != len(found):
        raise ValueError(f"compound message declares {compound[:2]} structures, has {len(found)}")
    return found


def parse_bag_message(text: str) -> BagIdentity:
    """The bag identity a label's DataMatrix (or its two linear symbols, concatenated)
    carries. Raises `ValueError` when a DIN, its check flags or the product is missing."""
    found = parse_structures(text)
    if DIN_DI not in found or PRODUCT_DI not in found:
        raise ValueError("a bag's symbol carries a DIN (001) and a product code (003)")
    din, flags = found[DIN_DI][:13], found[DIN_DI][13:]
    check = check_from_flags(flags)
    if check is None or check != iso7064_mod37_2(din):
        raise ValueError(f"DIN flags {flags!r} do not carry the check character of {din}")
    product = found[PRODUCT_DI]
    expires_at = None
    if EXPIRY_DATETIME_DI in found:
        content = found[EXPIRY_DATETIME_DI]
        expires_at = datetime.datetime.combine(
            from_cyyjjj(content[:6]), datetime.time(int(content[6:8]), int(content[8:10]))
        )
    elif EXPIRY_DATE_DI in found:
        expires_at = datetime.datetime.combine(from_cyyjjj(found[EXPIRY_DATE_DI]), END_OF_DAY)
    return BagIdentity(
        din=din, check=check, product=product[:6], division=product[6:], expires_at=expires_at
    )


def is_bag_message(text: str) -> bool:
    """Whether a scan is an ISBT 128 data-structure message (it starts with `=` or `&`),
    not a typed bag code (which starts with the DIN's facility letter or digit)."""
    return text[:1] in (DIN_DI, "&")


def scanned_bag_code(text: str) -> str:
    """The full bag code a scan names: from a DataMatrix (or the two linear symbols
    concatenated) message, else the typed code as stored (no spaces, capitals).

    Raises `ValueError` for a data-structure message that cannot be read."""
    text = "".join(text.split())
    if is_bag_message(text):
        return parse_bag_message(text).bag_code
    return text.upper()
