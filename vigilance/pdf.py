"""A PDF of each part of a reaction notification (ReportLab, invariant: the same record
gives the same bytes). Codes only, never a name beyond the signer's printed one."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from core.formatting import fmt_time
from vigilance.imputability import Imputability
from vigilance.models import ReactionReport


def _products(products) -> str:
    return "; ".join(f"{p['din']} {p['product_code']} ({p['bag']})" for p in products) or "—"


def part_rows(report: ReactionReport, part: str) -> list[tuple[str, str]]:
    """The (label, value) lines of part `part` ("a" or "b"), as the PDF prints them."""
    if part == "a":
        signature = report.part_a_signature
        rows = [
            ("Reporting establishment", report.establishment),
            ("Report identification", report.code),
            ("Reporting date", str(report.reporting_date)),
            ("Date of application", str(report.application_date or "—")),
            ("Donation identification number / product", _products(report.products)),
            ("Date of the reaction", str(report.reaction_date)),
            ("Type of reaction", report.reaction_type),
            ("Causality (WHO-UMC)", report.causality),
            ("Imputability level", dict(Imputability.choices)[report.imputability]),
        ]
    else:
        signature = report.part_b_signature
        rows = [
            ("Report identification", report.code),
            ("Confirmation of the serious adverse reaction", "yes" if report.confirmed else "no"),
            ("Clinical outcome", report.get_clinical_outcome_display()),
            ("Corrective measures", report.corrective_measures),
        ]
    if signature is not None:
        rows.append(
            (
                "Electronic signature",
                f"{signature.printed_name}, {fmt_time(signature.signed_at)}, meaning "
                f"{signature.meaning}, SHA-256 {signature.content_hash[:16]}…",
            )
        )
    return rows


def report_part_pdf(report: ReactionReport, part: str) -> bytes:
    """Part A (notification) or part B (confirmation) of `report` as a one-page PDF."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    title = (
        "Serious adverse reaction — part A: rapid notification"
        if part == "a"
        else "Serious adverse reaction — part B: confirmation"
    )
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{report.code} part {part.upper()}",
        author="CellTrack",
        invariant=1,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
    )
    cell = styles["BodyText"]
    table = Table(
        [
            [Paragraph(escape(label), cell), Paragraph(escape(str(value)), cell)]
            for label, value in part_rows(report, part)
        ],
        colWidths=[60 * mm, 114 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ]
        )
    )
    doc.build(
        [
            Paragraph(title, styles["Title"]),
            Paragraph("Directive 2006/86/EC, Annex II", styles["Italic"]),
            Spacer(1, 6 * mm),
            table,
        ]
    )
    return buffer.getvalue()
