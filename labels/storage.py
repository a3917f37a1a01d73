"""Storage labels for the liquid-nitrogen tanks: a rack, a box, a position.

3 × 1 inch (76.2 × 25.4 mm), on cryogenic label stock. Each carries its place as Code 128
(`T1/R1/B1/5` for a position, `T1/R1/B1` for a box, `T1/R1` for a rack: tank / rack / box /
position, as `batches.models.StorageLocation` prints it) with the text under it, and the
same place in words above. The place is what is scanned to find or put back a bag, so the
label names no bag: a position keeps its label whoever is stored in it.
"""

from __future__ import annotations

from collections.abc import Iterable

from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

from batches.models import StorageLocation
from labels import pdf
from labels.barcodes import draw_code128

LABEL_SIZE = (3 * inch, 1 * inch)
MARGIN = 6
LEVELS = ("Tank", "Rack", "Box", "Position")
KINDS = {2: "Rack", 3: "Box", 4: "Storage position"}


def place_code(*parts: str) -> str:
    """The scanned form of a place: its parts joined by `/` (tank/rack/box/position)."""
    return "/".join(parts)


def draw_place_label(c: Canvas, parts: tuple[str, ...]) -> None:
    """The label of a rack (tank, rack), box (+ box) or position (+ position)."""
    width, height = LABEL_SIZE
    inner = width - 2 * MARGIN
    code = place_code(*parts)
    kind = KINDS[len(parts)]
    pdf.draw_text(c, MARGIN, height - 11, f"{kind} · liquid nitrogen storage", 6)
    words = " · ".join(f"{level} {part}" for level, part in zip(LEVELS, parts, strict=False))
    pdf.draw_text(c, MARGIN, height - 24, words, 9.5, pdf.BOLD, max_width=inner)
    draw_code128(c, width / 2, 13, code, height=22, max_width=inner, anchor="middle")
    pdf.draw_text(c, width / 2, 5, code, 6.5, anchor="middle", max_width=inner)


def location_parts(location: StorageLocation) -> tuple[str, str, str, str]:
    return (location.tank, location.rack, location.box, location.position)


def storage_labels_pdf(places: Iterable[tuple[str, ...]], *, title: str) -> bytes:
    """One label per place (2 to 4 parts each)."""
    pages = [lambda c, parts=parts: draw_place_label(c, parts) for parts in places]
    return pdf.document(pages, LABEL_SIZE, title=title, subject="Storage labels")
