"""The bag's identity as ISBT 128-style data structures: what the barcodes carry.

A bag's code is `<DIN><check>-<product code>-<division>` (`batches.models.Bag`), e.g.
`E000126000001W-S0412V00-A0`. The DIN names the batch; only the whole code tells two bags
of it apart. The label's barcodes carry it as ISBT 128 data structures (ICCBBA ST-001),
each a data identifier followed by fixed-length content:

- 023 Compound Message, ``=+aabbb`` (the DataMatrix only): aa structures follow; bbb
  ``000`` = no ICCBBA-assigned sequence. Example ``=+03000``.
- 001 Donation Identification Number, ``=`` + the 13-character DIN + 2 flag characters.
  The flags are Type 3 (60-96): 60 + the ISO 7064 mod 37-2 value of the DIN, so the symbol
  carries the check character that the eye-readable text shows boxed (``*`` is 36, flags
  ``96``). Example ``=E00012600000192``.
- 003 Product Code, ``=<`` + product description code (``S0412``) + type of donation
  (``V``, volunteer allogeneic) + the bag's division in the ``ds`` positions. Example
  ``=<S0412VA0``.
- 005 Expiration Date and Time, ``&>cyyjjjhhmm``: century (0 = 2000-2099), year in the
  century, day of the year, hour, minute (local time). Example ``&>0280922359`` for
  2028-04-01 23:59.

Why these choices:

- The stored product code keeps ``00`` in its division positions ("no division in the
  product code itself", `batches.services.DEFAULT_PRODUCT_CODE`); a bag's own division
  goes into those positions, as ISBT 128 does for a divided product. Reading a symbol back
  puts ``00`` there again, so `BagIdentity.bag_code` is exactly `Bag.code`. A product code
  whose last two characters are not ``00`` could not be read back: it is refused
  (`LabelError`) rather than printed on a label whose scan would name another bag.
- The batch has an expiry date, not a time: the product expires at the end of that day,
  and structure 005 says so (23:59) instead of leaving a reader to assume a time (004).
- One DataMatrix carries 023 + 001 + 003 + 005 concatenated, without separators (every
  structure has a known length), so one scan gives the bag's full code and its expiry.

The facility and product description codes are the project's own, not ICCBBA-licensed
codes: the labels say "ISBT 128-style".
"""

from __future__ import annotations

import datetime
import re

# The reading side (parse_bag_message & co.) lives in batches, below dosing, for the
# bedside scan; it is re-exported here for the label code and its tests.
from batches.isbt import (  # noqa: F401
    ALPHABET,
    COMPOUND_DI,
    DIN_DI,
    DIN_RE,
    END_OF_DAY,
    EXPIRY_DATE_DI,
    EXPIRY_DATETIME_DI,
    PRODUCT_DI,
    UNDIVIDED,
    BagIdentity,
    check_from_flags,
    checksum_flags,
    from_cyyjjj,
    iso7064_mod37_2,
    parse_bag_message,
    parse_structures,
)

STYLE_NOTE = "ISBT 128-style: not licensed ICCBBA codes"

UNDEFINED_SEQUENCE = "000"

PRODUCT_RE = re.compile(r"^[A-Z][0-9]{4}[A-Z0-9]$")  # description code + type of donation
DIVISION_RE = re.compile(r"^[A-Z0-9][a-z0-9]$")


class LabelError(ValueError):
    """A record that cannot be printed as an ISBT 128-style label without losing data."""


def din_structure(din: str) -> str:
    """Data Structure 001: `=` DIN flags."""
    if not DIN_RE.match(din):
        raise LabelError(f"{din!r} is not a 13-character DIN.")
    return f"{DIN_DI}{din}{checksum_flags(din)}"


def product_structure(product: str, division: str) -> str:
    """Data Structure 003: `=<` product description code, type of donation, division."""
    if not PRODUCT_RE.match(product):
        raise LabelError(
            f"Product {product!r}: ISBT 128 takes a letter, 4 digits and a type of donation."
        )
    if not DIVISION_RE.match(division):
        raise LabelError(f"Division {division!r}: ISBT 128 takes 2 characters such as A0.")
    return f"{PRODUCT_DI}{product}{division}"


def cyyjjj(day: datetime.date) -> str:
    """ISBT 128's date: century (0 = 2000-2099), year in the century, day of the year."""
    if not 2000 <= day.year <= 2999:
        raise LabelError(f"{day.isoformat()}: ISBT 128 dates run from 2000.")
    years = day.year - 2000
    return f"{years // 100}{years % 100:02d}{day.timetuple().tm_yday:03d}"


def expiry_structure(moment: datetime.datetime) -> str:
    """Data Structure 005: `&>` cyyjjj hhmm (local time)."""
    return f"{EXPIRY_DATETIME_DI}{cyyjjj(moment.date())}{moment:%H%M}"


def compound_structure(count: int) -> str:
    """Data Structure 023: `=+` aa bbb, `count` structures in no ICCBBA-assigned order."""
    return f"{COMPOUND_DI}{count:02d}{UNDEFINED_SEQUENCE}"


def identity_of(bag) -> BagIdentity:
    """A bag's identity as its label's symbols carry it, checked to read back as `bag.code`.

    Raises `LabelError` when the bag's code cannot be carried without loss."""
    batch = bag.batch
    product_code = bag.product_code
    if len(product_code) != 8 or not product_code.endswith(UNDIVIDED):
        raise LabelError(
            f"Bag {bag.code}: product code {product_code!r} must end in {UNDIVIDED} (the "
            "division positions, which carry the bag's division on the label)."
        )
    expires_at = (
        datetime.datetime.combine(batch.expires_on, END_OF_DAY) if batch.expires_on else None
    )
    identity = BagIdentity(
        din=batch.din,
        check=batch.din_check,
        product=product_code[:6],
        division=bag.division,
        expires_at=expires_at,
    )
    # Every structure is valid (DIN, product, division, date) and reads back as the code.
    try:
        read_back = parse_bag_message(bag_message(identity)).bag_code
    except LabelError:
        raise
    except ValueError as error:
        raise LabelError(f"Bag {bag.code}: {error}.") from None
    if read_back != bag.code:
        raise LabelError(f"Bag {bag.code}: its code does not read back from the label.")
    return identity


def bag_message(identity: BagIdentity) -> str:
    """The DataMatrix message: 023 + 001 + 003 (+ 005 when the expiry is known)."""
    parts = [
        din_structure(identity.din),
        product_structure(identity.product, identity.division),
    ]
    if identity.expires_at is not None:
        parts.append(expiry_structure(identity.expires_at))
    return compound_structure(len(parts)) + "".join(parts)


def eye_readable_din(din: str) -> tuple[str, str, str]:
    """The DIN as ISBT 128 prints it: facility, year and sequence spaced ("E0001 26
    000001"), the flag characters (printed turned) and the check character (boxed)."""
    return f"{din[:5]} {din[5:7]} {din[7:]}", checksum_flags(din), iso7064_mod37_2(din)
