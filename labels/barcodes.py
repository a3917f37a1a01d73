"""The symbols: Code 128 (ReportLab's writer) and DataMatrix ECC 200 (ppf-datamatrix).

ReportLab's own DataMatrix writer is not used: it makes one symbol size only and
mis-encodes characters ISBT 128 data identifiers use (`=`, `>`, `&`). ppf-datamatrix picks
the smallest square ECC 200 symbol for the message; it is asked for ASCII encodation only
(digit pairs packed), the encodation every reader implements the same way — for a message
of about 45 characters the others would save a row or two at most.

Sizes: Code 128 with a narrow bar of 0.72 pt (0.254 mm, 10 mil: two dots of a 203 dpi
label printer, three of a 300 dpi one) and ten modules of quiet zone each side. The bag's
DataMatrix is 22 × 22 modules in 1 inch (1.15 mm a module). Dark on white only.
"""

from __future__ import annotations

from ppf.datamatrix import DataMatrix
from reportlab.graphics.barcode.code128 import Code128
from reportlab.pdfgen.canvas import Canvas

from labels.isbt import LabelError

NARROW_BAR = 0.72  # pt: 0.254 mm
QUIET_MODULES = 10


def _code128(value: str, bar_width: float, height: float) -> Code128:
    if not value or not value.isascii() or not value.isprintable():
        raise LabelError(f"{value!r} cannot be a Code 128 symbol: printable ASCII only.")
    return Code128(
        value,
        barWidth=bar_width,
        barHeight=height,
        humanReadable=False,
        quiet=True,
        lquiet=QUIET_MODULES * bar_width,
        rquiet=QUIET_MODULES * bar_width,
    )


def code128_width(value: str, bar_width: float = NARROW_BAR) -> float:
    """The width of `value`'s symbol with its quiet zones."""
    return _code128(value, bar_width, 10).width


def draw_code128(
    c: Canvas,
    x: float,
    y: float,
    value: str,
    *,
    height: float = 34,
    bar_width: float = NARROW_BAR,
    max_width: float | None = None,
    anchor: str = "start",
) -> float:
    """Draw `value` as Code 128 with its bottom-left (quiet zone included) at (x, y); a
    symbol wider than `max_width` gets narrower bars (never under 0.45 pt). Returns the
    width drawn."""
    if max_width is not None:
        natural = code128_width(value, bar_width)
        if natural > max_width:
            bar_width = max(0.45, bar_width * max_width / natural)
    symbol = _code128(value, bar_width, height)
    if anchor == "middle":
        x -= symbol.width / 2
    elif anchor == "end":
        x -= symbol.width
    symbol.drawOn(c, x, y)
    return symbol.width


def datamatrix_modules(message: str) -> list[list[int]]:
    """The ECC 200 symbol for `message` as rows of 1 (dark) and 0, top row first, without
    its quiet zone."""
    if not message.isascii():
        raise LabelError("A DataMatrix message here is ASCII only.")
    return DataMatrix(message, codecs=["ascii"]).matrix


def draw_datamatrix(c: Canvas, x: float, y: float, message: str, size: float) -> float:
    """Draw `message` as a square DataMatrix `size` wide with its bottom-left at (x, y).
    Returns the module size."""
    rows = datamatrix_modules(message)
    count = len(rows)
    module = size / count
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        top = y + (count - 1 - r) * module
        col = 0
        while col < count:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < count and row[col]:
                col += 1
            # One rectangle per dark run: no hairline gaps between modules.
            c.rect(x + start * module, top, (col - start) * module, module, stroke=0, fill=1)
    c.restoreState()
    return module
