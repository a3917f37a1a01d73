"""Drawing primitives shared by the labels and the dispensing sheet (ReportLab canvas).

Text is set in Bitstream Vera, which ReportLab ships, so that ≤, −, °, × and accented
names print without system fonts; superscript digits (the ×10⁶ of `core.formatting`) are
drawn as raised small digits, since the font has no glyphs for them. Documents are built
with ReportLab's `invariant` mode: the same record gives the same bytes, apart from any
"printed at" line a document adds itself.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable

import reportlab
from django.http import HttpResponse
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

REGULAR = "CellTrackSans"
BOLD = "CellTrackSans-Bold"
_FONT_DIR = os.path.join(os.path.dirname(reportlab.__file__), "fonts")

if REGULAR not in pdfmetrics.getRegisteredFontNames():
    pdfmetrics.registerFont(TTFont(REGULAR, os.path.join(_FONT_DIR, "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, os.path.join(_FONT_DIR, "VeraBd.ttf")))

SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_RUNS = re.compile(r"([⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+)")
# Characters Vera lacks that a record may hold, and what prints instead.
_FALLBACKS = str.maketrans({"→": "->", "←": "<-", "…": "...", "≥": ">=", "₀": "0"})
SUPER_SCALE = 0.62
SUPER_RISE = 0.38


def _runs(text: str):
    """(text, superscript?) pieces of `text`."""
    for piece in _RUNS.split(str(text).translate(_FALLBACKS)):
        if not piece:
            continue
        if _RUNS.fullmatch(piece):
            yield piece.translate(SUPERSCRIPTS), True
        else:
            yield piece, False


def text_width(text: str, size: float, font: str = REGULAR) -> float:
    return sum(
        pdfmetrics.stringWidth(piece, font, size * SUPER_SCALE if sup else size)
        for piece, sup in _runs(text)
    )


def draw_text(
    c: Canvas,
    x: float,
    y: float,
    text: str,
    size: float,
    font: str = REGULAR,
    *,
    anchor: str = "start",
    max_width: float | None = None,
) -> float:
    """Draw one line at baseline `y`; `anchor` start / middle / end. A line wider than
    `max_width` is set smaller until it fits. Returns the width drawn."""
    if max_width is not None:
        while size > 4 and text_width(text, size, font) > max_width:
            size -= 0.25
    width = text_width(text, size, font)
    if anchor == "middle":
        x -= width / 2
    elif anchor == "end":
        x -= width
    for piece, sup in _runs(text):
        piece_size = size * SUPER_SCALE if sup else size
        c.setFont(font, piece_size)
        c.drawString(x, y + (size * SUPER_RISE if sup else 0), piece)
        x += pdfmetrics.stringWidth(piece, font, piece_size)
    return width


def wrap(text: str, width: float, size: float, font: str = REGULAR) -> list[str]:
    """`text` broken into lines no wider than `width` (at word boundaries)."""
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and text_width(candidate, size, font) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def draw_wrapped(
    c: Canvas,
    x: float,
    y: float,
    text: str,
    width: float,
    size: float,
    font: str = REGULAR,
    *,
    leading: float | None = None,
    anchor: str = "start",
) -> float:
    """Draw `text` wrapped to `width` from baseline `y` down; returns the next baseline."""
    leading = leading or size * 1.25
    for line in wrap(text, width, size, font):
        draw_text(c, x, y, line, size, font, anchor=anchor)
        y -= leading
    return y


def boxed(c: Canvas, x: float, y: float, char: str, size: float, font: str = BOLD) -> float:
    """A character in a box, its baseline at `y` (ISBT 128's keyboard check character).
    Returns the box's width."""
    pad = size * 0.22
    width = max(text_width(char, size, font), size * 0.62) + 2 * pad
    c.setLineWidth(0.8)
    c.rect(x, y - pad * 1.2, width, size + pad * 1.4, stroke=1, fill=0)
    draw_text(c, x + width / 2, y, char, size, font, anchor="middle")
    return width


def turned(c: Canvas, x: float, y: float, text: str, size: float, font: str = REGULAR) -> float:
    """`text` turned 90° clockwise, reading downwards from (x, y + its width): ISBT 128's
    flag characters. Returns the space it takes across (about one line's height)."""
    c.saveState()
    c.translate(x + size * 0.8, y + text_width(text, size, font))
    c.rotate(-90)
    draw_text(c, 0, 0, text, size, font)
    c.restoreState()
    return size


def rule(c: Canvas, x1: float, y: float, x2: float, width: float = 0.6) -> None:
    c.setLineWidth(width)
    c.line(x1, y, x2, y)


def caption_value(
    c: Canvas,
    x: float,
    y: float,
    caption: str,
    value: str,
    *,
    width: float,
    size: float = 8,
    caption_width: float | None = None,
) -> float:
    """A caption and its value on one line (the value bold, set smaller to fit); returns
    the next baseline."""
    caption_width = caption_width if caption_width is not None else width * 0.36
    draw_text(c, x, y, caption, size * 0.85, max_width=caption_width - 2)
    draw_text(c, x + caption_width, y, value, size, BOLD, max_width=width - caption_width)
    return y - size * 1.35


def document(
    pages: list[Callable[[Canvas], None]],
    pagesize: tuple[float, float],
    *,
    title: str,
    subject: str = "",
) -> bytes:
    """A PDF with one page per drawing function."""
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=pagesize, invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("CellTrack")
    c.setCreator("CellTrack labels")
    c.setSubject(subject or title)
    for draw in pages:
        draw(c)
        c.showPage()
    c.save()
    return buffer.getvalue()


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """The PDF inline, under a file name safe on every system (no `*`, `/`, spaces)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.replace("*", "star"))
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{safe}"'
    # Labels and sheets name patients and bags: never kept by a shared cache.
    response["Cache-Control"] = "private, no-store"
    return response
