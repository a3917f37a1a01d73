"""The cohort report as a PDF (reportlab): the figures beside the published values, then
one line per patient."""

from __future__ import annotations

import io

from django.utils import timezone
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

ROW_COLUMNS = [
    ("patient", "Patient"),
    ("hospital", "Hospital"),
    ("doses", "Doses"),
    ("preparation", "Preparation"),
    ("days_ventilation_to_dose1", "IMV → D1 (d)"),
    ("days_dose1_to_dose2", "D1 → D2 (d)"),
    ("follow_up_days", "Follow-up (d)"),
    ("improved", "Improved"),
    ("extubated", "Extubated"),
    ("died", "Died"),
    ("lab_excluded", "Out of day-5 labs"),
]
_GRID = TableStyle(
    [("GRID", (0, 0), (-1, -1), 0.25, "#888888"), ("FONTSIZE", (0, 0), (-1, -1), 8)]
)


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render(lines: list[dict], rows: list[dict], *, filters: dict) -> bytes:
    out = io.BytesIO()
    styles = getSampleStyleSheet()
    document = SimpleDocTemplate(out, pagesize=landscape(A4), title="Cohort report")
    chosen = ", ".join(f"{k}={v}" for k, v in filters.items() if v) or "none"
    story = [
        Paragraph("CellTrack cohort report", styles["Title"]),
        Paragraph(
            f"Filters: {chosen}. Computed {timezone.localtime():%Y-%m-%d %H:%M}.", styles["Normal"]
        ),
    ]
    figures = [["Figure", "This cohort", "Published"]]
    for line in lines:
        published = line["published"]
        figures.append(
            [line["figure"], _text(line["value"]), published["as_published"] if published else ""]
        )
    story += [Table(figures, style=_GRID, repeatRows=1), PageBreak()]
    table = [[title for _, title in ROW_COLUMNS]]
    table += [[_text(row[key]) for key, _ in ROW_COLUMNS] for row in rows]
    story.append(Table(table, style=_GRID, repeatRows=1))
    document.build(story)
    return out.getvalue()
