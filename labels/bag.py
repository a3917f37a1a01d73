"""The bag label: 4 × 4 inch (101.6 mm square), in the spirit of ISBT 128 ST-004.

ISBT 128 cellular therapy container labels are commonly 4 × 4 inch (or 100 × 100 mm), laid
out in bands; this one, from the top:

1. DIN (upper left): "DIN" caption, the Code 128 of Data Structure 001 (`=` DIN + Type 3
   check flags), under it the eye-readable DIN spaced as ISBT 128 prints it ("E0001 26
   000001"), the flag characters turned 90° and the keyboard check character boxed.
   Product (upper right): the Code 128 of Data Structure 003 (`=<` product description
   code, type of donation, division) with the product code and division under it. The
   manufacturing facility across the width.
2. The product description: AT-MSC, adipose tissue-derived mesenchymal stromal cells,
   allogeneic, cryopreserved, volunteer donor, and the cryoprotectant.
3. The bag's facts (left): bag code, batch, cells per bag (×10⁶), volume, storage
   temperature, expiry, IMPD reference; the DataMatrix (right, 1 inch) carrying the full
   bag code and the expiry (`labels.isbt.bag_message`).
4. The intended-use statement for an investigational product, and "ISBT 128-style: not
   licensed ICCBBA codes".

Print on cryogenic label stock rated for the vapour phase of liquid nitrogen.
"""

from __future__ import annotations

from collections.abc import Iterable

from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

from batches.models import Bag
from core.formatting import fmt_cells
from labels import pdf
from labels.barcodes import draw_code128, draw_datamatrix
from labels.isbt import (
    STYLE_NOTE,
    BagIdentity,
    bag_message,
    din_structure,
    eye_readable_din,
    identity_of,
    product_structure,
)

LABEL_SIZE = (4 * inch, 4 * inch)
MARGIN = 9

PRODUCT_NAME = "AT-MSC"
PRODUCT_DESCRIPTION = "Adipose tissue-derived mesenchymal stromal cells"
PRODUCT_ATTRIBUTES = "Allogeneic · Cryopreserved · Volunteer donor"
# The freezing medium of every bag (design brief: AB serum + 10 % DMSO). No model holds it.
CRYOPROTECTANT = "In AB serum + 10 % DMSO (cryoprotectant)"
# The storage temperature of every bag. StorageLocation has no temperature field: every
# position is in a liquid-nitrogen tank, stored in the vapour phase at -150 °C or colder.
STORAGE_TEMPERATURE = "≤ −150 °C"
STORAGE_CONDITIONS = "vapour phase of liquid nitrogen"
INTENDED_USE = "For clinical trial / compassionate use only"
INVESTIGATIONAL = "Investigational medicinal product: not for any other use."


def expiry_text(identity: BagIdentity) -> str:
    if identity.expires_at is None:
        return "not set: not for release"
    return f"{identity.expires_at:%Y-%m-%d %H:%M}"


def _din_block(c: Canvas, x: float, top: float, width: float, identity: BagIdentity) -> None:
    pdf.draw_text(c, x, top - 6, "DIN", 6)
    draw_code128(c, x, top - 40, din_structure(identity.din), height=30, max_width=width)
    spaced, flags, check = eye_readable_din(identity.din)
    baseline = top - 53
    drawn = pdf.draw_text(c, x + 6, baseline, spaced, 11.5, pdf.BOLD, max_width=width - 34)
    after = x + 6 + drawn + 3
    after += pdf.turned(c, after, baseline - 1, flags, 6) + 2
    pdf.boxed(c, after, baseline, check, 11)


def _product_block(
    c: Canvas, x: float, top: float, width: float, identity: BagIdentity, bag: Bag
) -> None:
    right = x + width
    pdf.draw_text(c, right, top - 6, "Product code · division", 6, anchor="end")
    draw_code128(
        c,
        right,
        top - 40,
        product_structure(identity.product, identity.division),
        height=30,
        max_width=width,
        anchor="end",
    )
    pdf.draw_text(
        c,
        right - 6,
        top - 53,
        f"{identity.product} {identity.division}",
        11.5,
        pdf.BOLD,
        anchor="end",
    )
    pdf.draw_text(
        c,
        right - 6,
        top - 62,
        f"product {bag.product_code} · division {bag.division}",
        6,
        anchor="end",
    )


def draw_bag_label(c: Canvas, bag: Bag) -> None:
    """One bag's label on the current page of `c` (LABEL_SIZE)."""
    identity = identity_of(bag)
    batch = bag.batch
    width, height = LABEL_SIZE
    left, right, inner = MARGIN, width - MARGIN, width - 2 * MARGIN
    top = height - MARGIN

    # 1. DIN and product code.
    half = inner / 2 - 3
    _din_block(c, left, top, half, identity)
    _product_block(c, right - half, top, half, identity, bag)
    facility = batch.facility
    made = f"Manufactured by {facility.name} (FIN {facility.fin})"
    if facility.authorisation_ref:
        made += f", GMP authorisation {facility.authorisation_ref}"
    pdf.draw_text(c, left, top - 74, made, 6.5, max_width=inner)
    pdf.rule(c, left, top - 79, right)

    # 2. What the product is.
    y = top - 95
    pdf.draw_text(c, left, y, PRODUCT_NAME, 15, pdf.BOLD)
    pdf.draw_text(c, right, y, PRODUCT_ATTRIBUTES, 7.5, pdf.BOLD, anchor="end", max_width=160)
    pdf.draw_text(c, left, y - 11, PRODUCT_DESCRIPTION, 7.5, max_width=inner)
    pdf.draw_text(c, left, y - 20, CRYOPROTECTANT, 6.5, max_width=inner)
    pdf.rule(c, left, y - 25, right)

    # 3. The bag's facts, and the DataMatrix.
    matrix = 1 * inch
    facts_width = inner - matrix - 8
    y = top - 132
    rows = [
        ("Bag", bag.code),
        ("Batch", batch.code),
        ("Cells per bag", fmt_cells(bag.nominal_cells)),
        ("Volume", f"{bag.volume_ml} ml"),
        ("Storage", STORAGE_TEMPERATURE),
        ("", STORAGE_CONDITIONS),
        ("Expires", expiry_text(identity)),
        ("IMPD", batch.impd_reference),
    ]
    for caption, value in rows:
        y = pdf.caption_value(
            c, left, y, caption, value, width=facts_width, size=8.5, caption_width=58
        )
    matrix_y = top - 130 - matrix + 8
    draw_datamatrix(c, right - matrix, matrix_y, bag_message(identity), matrix)
    pdf.draw_text(c, right - matrix / 2, matrix_y - 8, "bag code + expiry", 5.5, anchor="middle")

    # 4. Intended use, and what the codes are.
    pdf.rule(c, left, 46, right)
    pdf.draw_text(c, width / 2, 35, INTENDED_USE, 9, pdf.BOLD, anchor="middle", max_width=inner)
    pdf.draw_text(c, width / 2, 25, INVESTIGATIONAL, 6.5, anchor="middle", max_width=inner)
    pdf.draw_text(c, width / 2, 12, STYLE_NOTE, 6, anchor="middle", max_width=inner)


def bag_labels_pdf(bags: Iterable[Bag], *, title: str) -> bytes:
    """One page per bag. Raises `LabelError` when a bag's code cannot be carried."""
    bags = list(bags)
    for bag in bags:  # refuse before drawing anything
        identity_of(bag)
    pages = [lambda c, bag=bag: draw_bag_label(c, bag) for bag in bags]
    return pdf.document(pages, LABEL_SIZE, title=title, subject="ISBT 128-style bag labels")
