"""The patient's wristband label: 4 × 1 inch (101.6 × 25.4 mm), for a wristband insert.

The patient's pseudonymised code in large type and as Code 128 (the code itself, nothing
added: the bedside check compares the scan with `Patient.code`), the hospital, and nothing
else that could identify the patient. The barcode is printed twice, at each end, so that
one of them faces the scanner on a curved band.
"""

from __future__ import annotations

from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

from labels import pdf
from labels.barcodes import draw_code128
from patients.models import Patient

LABEL_SIZE = (4 * inch, 1 * inch)
MARGIN = 6
BARCODE_WIDTH = 86


def draw_wristband(c: Canvas, patient: Patient) -> None:
    width, height = LABEL_SIZE
    code = patient.code
    for x, anchor in ((MARGIN, "start"), (width - MARGIN, "end")):
        drawn = draw_code128(
            c, x, 16, code, height=height - 26, max_width=BARCODE_WIDTH, anchor=anchor
        )
        centre = x + drawn / 2 if anchor == "start" else x - drawn / 2
        pdf.draw_text(c, centre, 7, code, 6.5, anchor="middle", max_width=BARCODE_WIDTH)
    middle = width / 2
    text_width = width - 2 * (MARGIN + BARCODE_WIDTH + 4)
    pdf.draw_text(c, middle, height - 14, "Patient", 6, anchor="middle")
    pdf.draw_text(
        c, middle, height - 34, code, 15, pdf.BOLD, anchor="middle", max_width=text_width
    )
    pdf.draw_text(
        c,
        middle,
        height - 46,
        patient.hospital.name,
        5.5,
        anchor="middle",
        max_width=text_width,
    )
    pdf.draw_text(
        c,
        middle,
        8,
        "AT-MSC · scan before every infusion",
        5,
        anchor="middle",
        max_width=text_width,
    )


def wristband_pdf(patient: Patient) -> bytes:
    return pdf.document(
        [lambda c: draw_wristband(c, patient)],
        LABEL_SIZE,
        title=f"Wristband {patient.code}",
        subject="Patient wristband label",
    )
