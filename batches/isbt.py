"""ISBT 128-style identifiers: Donation Identification Number and its check character.

The DIN is 13 characters: a 5-character facility identification number (FIN), a 2-digit
year and a 6-digit sequence. Its check character is ISO 7064 mod 37-2 computed over those
13 characters, drawn from 0-9, A-Z and '*'.
"""

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
