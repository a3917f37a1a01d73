"""The dispensing sheet that travels with a dose from the pharmacy to the bedside (A4).

From the top: the dose's code as Code 128 (the only barcode on the sheet: the patient is
identified at the bedside by scanning the wristband, never the sheet); patient, hospital,
dose number, weight, protocol and batch; the bags with the storage position each was
picked from, their cells and volume; what is given (cells, volume, cells/kg against the
protocol's range); the preparation (thawed or refreshed, with its times); the latest start
of infusion, boxed; route, filter and premedication; who prepared and dispensed; the
bedside check; signature lines. Times are local (`core.formatting.fmt_time`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from batches.models import Bag, BagEvent
from core.formatting import EMPTY, fmt_cells, fmt_time, local_times_note
from dosing.models import Dose, DoseBag, Preparation
from dosing.rules import limit_text, use_before
from labels import pdf
from labels.bag import INTENDED_USE
from labels.barcodes import draw_code128
from labels.isbt import STYLE_NOTE, LabelError

PAGE = A4
MARGIN = 42
# The statuses of a dose that has a preparation: only such a dose goes to the ward.
PRINTABLE = frozenset({Dose.Status.PREPARED, Dose.Status.DISPENSED, Dose.Status.INFUSED})
LEFT_TANK = frozenset({Bag.Status.THAWED, Bag.Status.IN_REFRESH})


def person(user) -> str:
    if user is None:
        return EMPTY
    return user.get_full_name() or user.get_username()


def picked_position(dose_bag: DoseBag, events: list[BagEvent]) -> str:
    """Where the bag was taken from: the position its custody event recorded when it left
    the tank (thawed or into refresh culture) for this dose; before that, where it is
    stored now; else the position recorded when it was reserved."""
    bag = dose_bag.bag
    mine = [e for e in events if e.occurred_at >= dose_bag.reserved_at and e.location]
    for event in reversed(mine):
        if event.to_status in LEFT_TANK:
            return event.location
    if bag.location_id:
        return str(bag.location)
    return mine[-1].location if mine else EMPTY


@dataclass(frozen=True)
class BagRow:
    code: str
    position: str
    cells: int
    volume_ml: object


def bag_rows(dose: Dose) -> list[BagRow]:
    links = list(
        dose.dose_bags.filter(live=True).select_related("bag__location").order_by("bag__code")
    )
    events: dict[int, list[BagEvent]] = {}
    for event in BagEvent.objects.filter(bag__in=[link.bag_id for link in links]).order_by(
        "occurred_at", "pk"
    ):
        events.setdefault(event.bag_id, []).append(event)
    return [
        BagRow(
            link.bag.code,
            picked_position(link, events.get(link.bag_id, [])),
            link.cells,
            link.volume_ml,
        )
        for link in links
    ]


def preparation_of(dose: Dose) -> Preparation:
    """The dose's preparation; a dose that has none is refused (`LabelError`)."""
    prep = Preparation.objects.filter(dose=dose).select_related("prepared_by").first()
    if dose.status not in PRINTABLE or prep is None:
        raise LabelError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: its dispensing sheet "
            "is printed once the dose is prepared."
        )
    return prep


class Sheet:
    """A top-down cursor over A4 pages."""

    def __init__(self, c: Canvas, dose: Dose):
        self.c, self.dose = c, dose
        self.width, self.height = PAGE
        self.inner = self.width - 2 * MARGIN
        self.y = self.height - MARGIN

    def need(self, space: float) -> None:
        if self.y - space < MARGIN + 40:
            self.footer()
            self.c.showPage()
            self.y = self.height - MARGIN
            pdf.draw_text(self.c, MARGIN, self.y - 10, f"Dose {self.dose.code} (continued)", 10)
            self.y -= 24

    def heading(self, text: str) -> None:
        self.need(40)
        self.y -= 16
        pdf.draw_text(self.c, MARGIN, self.y, text, 11, pdf.BOLD)
        self.y -= 5
        pdf.rule(self.c, MARGIN, self.y, self.width - MARGIN, 0.5)
        self.y -= 13

    def pairs(self, rows: list[tuple[str, str]], columns: int = 2) -> None:
        column = self.inner / columns
        for start in range(0, len(rows), columns):
            self.need(14)
            for i, (caption, value) in enumerate(rows[start : start + columns]):
                pdf.caption_value(
                    self.c,
                    MARGIN + i * column,
                    self.y,
                    caption,
                    value,
                    width=column - 8,
                    size=9.5,
                    caption_width=112 if columns == 1 else 82,
                )
            self.y -= 14

    def table(self, header: list[str], rows: list[list[str]], widths: list[float]) -> None:
        def line(cells, font):
            x = MARGIN
            for cell, width in zip(cells, widths, strict=True):
                pdf.draw_text(self.c, x, self.y, cell, 9.5, font, max_width=width - 6)
                x += width
            self.y -= 14

        self.need(30)
        line(header, pdf.BOLD)
        for row in rows:
            self.need(14)
            line(row, pdf.REGULAR)

    def footer(self) -> None:
        c = self.c
        pdf.rule(c, MARGIN, MARGIN + 22, self.width - MARGIN, 0.5)
        pdf.draw_text(c, MARGIN, MARGIN + 11, f"{INTENDED_USE}. {STYLE_NOTE}.", 7)
        pdf.draw_text(c, MARGIN, MARGIN + 2, local_times_note(), 7)
        pdf.draw_text(
            c, self.width - MARGIN, MARGIN + 2, f"page {c.getPageNumber()}", 7, anchor="end"
        )


def _header(sheet: Sheet, dose: Dose) -> None:
    c, top = sheet.c, sheet.y
    right = sheet.width - MARGIN
    pdf.draw_text(c, MARGIN, top - 14, "Dispensing sheet · AT-MSC", 16, pdf.BOLD)
    pdf.draw_text(c, MARGIN, top - 38, f"Dose {dose.code}", 20, pdf.BOLD)
    pdf.draw_text(c, MARGIN, top - 54, dose.patient.hospital.name, 10)
    draw_code128(c, right, top - 46, dose.code, height=40, bar_width=0.9, anchor="end")
    pdf.draw_text(c, right - 10, top - 56, f"dose {dose.code}", 8, anchor="end")
    sheet.y = top - 66


def _given(dose: Dose, prep: Preparation, rows: list[BagRow]) -> list[tuple[str, str]]:
    protocol = dose.protocol
    if prep.method == Preparation.Method.REFRESHED and prep.volume_ml is not None:
        volume = f"{prep.volume_ml} ml (resuspended)"
    else:
        volume = f"{sum(row.volume_ml for row in rows)} ml"
    per_kg = dose.delivered_cells_per_kg
    target = f"{fmt_cells(protocol.min_cells_per_kg)}–{fmt_cells(protocol.max_cells_per_kg)}/kg"
    given = [
        ("Cells to give", fmt_cells(dose.delivered_cells)),
        ("Volume", volume),
        ("Dose per kg", f"{fmt_cells(per_kg)}/kg" if per_kg is not None else EMPTY),
        ("Protocol range", target),
    ]
    return given


def _preparation(prep: Preparation) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(what it is, one a line; when and how much, two a line)."""
    what = [("Method", prep.get_method_display()), ("Medium", prep.medium)]
    when = [("Thawed at", fmt_time(prep.thawed_at))]
    if prep.method == Preparation.Method.REFRESHED:
        when += [
            ("Seeded at", fmt_time(prep.seeded_at)),
            ("Harvested at", fmt_time(prep.harvested_at)),
            ("Viable cells", fmt_cells(prep.viable_cells)),
            ("Viability", f"{prep.viability_pct} %" if prep.viability_pct is not None else EMPTY),
        ]
    when.append(("Prepared by", person(prep.prepared_by)))
    return what, when


def _deadline(sheet: Sheet, dose: Dose, prep: Preparation) -> None:
    c = sheet.c
    latest = dose.use_before or use_before(prep, dose.protocol)
    sheet.need(60)
    sheet.y -= 10
    box_top = sheet.y
    c.setLineWidth(1.6)
    c.rect(MARGIN, box_top - 46, sheet.inner, 46, stroke=1, fill=0)
    pdf.draw_text(c, MARGIN + 10, box_top - 19, "Latest start of infusion", 11, pdf.BOLD)
    pdf.draw_text(
        c, sheet.width - MARGIN - 10, box_top - 21, fmt_time(latest), 18, pdf.BOLD, anchor="end"
    )
    pdf.draw_text(c, MARGIN + 10, box_top - 36, limit_text(prep, dose.protocol), 8.5)
    sheet.y = box_top - 56


def draw_sheet(c: Canvas, dose: Dose, *, printed_by=None) -> None:
    prep = preparation_of(dose)
    rows = bag_rows(dose)
    protocol = dose.protocol
    sheet = Sheet(c, dose)
    _header(sheet, dose)

    sheet.heading("Patient and dose")
    sheet.pairs(
        [
            ("Patient", dose.patient.code),
            ("Dose number", f"{dose.number} of at most {protocol.max_doses}"),
            ("Weight", f"{dose.weight_kg} kg (measured {dose.weight_measured_on:%Y-%m-%d})"),
            ("Protocol", str(protocol)),
            ("Batch", dose.batch.code if dose.batch_id else EMPTY),
            ("Planned for", fmt_time(dose.planned_for)),
            ("Status", dose.get_status_display()),
            (
                "Dispensed",
                f"{fmt_time(dose.dispensed_at)} by {person(dose.dispensed_by)}"
                if dose.dispensed_at
                else "not yet",
            ),
        ]
    )

    sheet.heading(f"Bags ({len(rows)})")
    widths = [0.38, 0.26, 0.2, 0.16]
    sheet.table(
        ["Bag", "Picked from", "Cells", "Volume"],
        [[r.code, r.position, fmt_cells(r.cells), f"{r.volume_ml} ml"] for r in rows],
        [w * sheet.inner for w in widths],
    )

    sheet.heading("To give")
    sheet.pairs(_given(dose, prep, rows))
    if dose.has_override:
        sheet.pairs(
            [("Override", f"{dose.override_physician}: {dose.override_reason}")], columns=1
        )

    sheet.heading("Preparation")
    what, when = _preparation(prep)
    sheet.pairs(what, columns=1)
    sheet.pairs(when)

    _deadline(sheet, dose, prep)
    sheet.pairs(
        [
            ("Route", "Intravenous"),
            ("Filter", f"Standard {protocol.filter_microns}-micron transfusion filter"),
            ("Premedication", prep.premedication or "None required by the protocol"),
        ],
        columns=1,
    )

    sheet.heading("At the bedside")
    sheet.need(70)
    sheet.y = pdf.draw_wrapped(
        c,
        MARGIN,
        sheet.y,
        "Scan the patient's wristband and every bag's DataMatrix before the infusion. The "
        "bags must be exactly those listed above, each before its expiry, and the infusion "
        "must start before the time in the box.",
        sheet.inner,
        9,
    )
    sheet.y -= 14
    third = sheet.inner / 3
    for i, role in enumerate(("Checked (pharmacy)", "Received (ward)", "Time received")):
        x = MARGIN + i * third
        pdf.rule(c, x, sheet.y, x + third - 14, 0.5)
        pdf.draw_text(c, x, sheet.y - 10, role, 7.5)
    sheet.y -= 24
    printed = f"Printed {fmt_time(timezone.now())}"
    if printed_by is not None:
        printed += f" by {person(printed_by)}"
    pdf.draw_text(c, MARGIN, sheet.y, printed, 7.5)
    sheet.footer()


def dispensing_sheet_pdf(dose: Dose, *, printed_by=None) -> bytes:
    preparation_of(dose)  # refuse before drawing anything
    return pdf.document(
        [lambda c: draw_sheet(c, dose, printed_by=printed_by)],
        PAGE,
        title=f"Dispensing sheet {dose.code}",
        subject="Dispensing sheet",
    )
