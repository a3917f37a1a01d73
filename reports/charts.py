"""The report's charts: what each one shows (pure data, tested without a plotting library)
and their rendering as PNG with matplotlib (Agg backend, on the server), so the page shows
them as `<img src>` and its Content-Security-Policy needs no inline style.

- Figure 1 (`swimlanes`): a lane per patient, in days from dose 1; doses as arrows,
  invasive ventilation and ECMO as coloured bars, the outcome as a marker.
- Figure 3 (`lab_lines`): per lab value, a line before → day 5 per evaluable improved
  patient.
- Cells/kg per dose per patient (`cells_per_kg_points`).
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass

from reports import cohort

CHARTS = ("swimlanes", "labs", "cells")


@dataclass(frozen=True)
class Lane:
    patient: str
    doses: tuple[float, ...]  # days from dose 1
    supports: tuple[tuple[str, float, float], ...]  # kind, from, to (days from dose 1)
    outcomes: tuple[tuple[str, float], ...]  # kind, day
    end: float  # last day shown: the end of follow-up, else the last event


def _day(course: cohort.Course, at: datetime.datetime | datetime.date) -> float:
    if isinstance(at, datetime.datetime):
        return float(cohort._days(at - course.dose1.given_at))
    return float((at - course.day0).days)


def swimlanes(courses: list[cohort.Course]) -> list[Lane]:
    lanes = []
    for course in (c for c in courses if c.doses):
        doses = tuple(_day(course, d.given_at) for d in course.doses)
        outcomes = tuple(
            (kind, _day(course, on))
            for kind, on in sorted(course.outcomes.items(), key=lambda item: item[1])
        )
        follow_up = cohort.follow_up_days(course)
        events = [*doses, *(day for _, day in outcomes)]
        end = float(follow_up) if follow_up is not None else max(events)
        supports = tuple(
            (kind, _day(course, start), _day(course, stop) if stop else end)
            for kind, start, stop in course.supports
        )
        lanes.append(Lane(course.code, doses, supports, outcomes, end))
    return lanes


def lab_lines(courses: list[cohort.Course]) -> dict[str, list[tuple[str, float, float]]]:
    """For each lab value, (patient, before, day 5) of the evaluable improved patients."""
    lines: dict[str, list[tuple[str, float, float]]] = {kind: [] for kind in cohort.LAB_EXPECTED}
    for course in courses:
        if not course.doses or not cohort.improved(course) or cohort.lab_excluded(course):
            continue
        for kind in cohort.LAB_EXPECTED:
            pair = cohort.lab_pair(course, kind)
            if pair is not None:
                lines[kind].append((course.code, float(pair[0]), float(pair[1])))
    return lines


def cells_per_kg_points(courses: list[cohort.Course]) -> list[tuple[str, int, float]]:
    """(patient, dose number, cells/kg ×10⁶) of every infused dose."""
    return [
        (course.code, dose.number, float(dose.cells_per_kg) / 1e6)
        for course in courses
        for dose in course.doses
        if dose.cells_per_kg is not None
    ]


# --- rendering (matplotlib) ----------------------------------------------------------------

SUPPORT_COLOURS = {cohort.IMV: "#4a78b5", cohort.ECMO: "#c0392b"}
OUTCOME_MARKERS = {
    cohort.EXTUBATION: ("o", "#2e8b57", "extubation"),
    cohort.ICU_DISCHARGE: ("s", "#2e8b57", "ICU discharge"),
    cohort.DEATH: ("X", "#000000", "death"),
}


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width, height):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _png(figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", bbox_inches="tight")
    return out.getvalue()


def render(name: str, courses: list[cohort.Course]) -> bytes:
    """One chart as PNG bytes; `name` is one of CHARTS."""
    return {"swimlanes": _swimlanes_png, "labs": _labs_png, "cells": _cells_png}[name](courses)


def _swimlanes_png(courses) -> bytes:
    lanes = swimlanes(courses)
    figure = _figure(10, 0.45 * max(len(lanes), 1) + 1.5)
    axes = figure.subplots()
    for y, lane in enumerate(lanes):
        for kind, start, stop in lane.supports:
            axes.barh(y, stop - start, left=start, height=0.5, color=SUPPORT_COLOURS[kind],
                      alpha=0.6 if kind == cohort.IMV else 0.9)  # fmt: skip
        for day in lane.doses:
            axes.annotate("", xy=(day, y + 0.25), xytext=(day, y + 0.75),
                          arrowprops={"arrowstyle": "-|>", "color": "#e67e22"})  # fmt: skip
        for kind, day in lane.outcomes:
            marker, colour, _ = OUTCOME_MARKERS[kind]
            axes.plot(day, y, marker=marker, color=colour, markersize=7)
        axes.plot([lane.end], [y], marker="|", color="#555555", markersize=12)
    axes.set_yticks(range(len(lanes)), [lane.patient for lane in lanes])
    axes.invert_yaxis()
    axes.axvline(0, color="#999999", linewidth=0.8)
    axes.set_xlabel("days from dose 1")
    axes.set_title("Doses (arrows), ventilation (blue), ECMO (red), outcome")
    return _png(figure)


def _labs_png(courses) -> bytes:
    lines = lab_lines(courses)
    figure = _figure(12, 6)
    panels = figure.subplots(2, 3).flatten()
    for axes, (kind, rows) in zip(panels, lines.items(), strict=True):
        for _, before, after in rows:
            axes.plot([0, 1], [before, after], marker="o", color="#4a78b5")
        axes.set_xticks([0, 1], ["before", "day 5"])
        axes.set_title(f"{kind} (n={len(rows)})")
    return _png(figure)


def _cells_png(courses) -> bytes:
    points = cells_per_kg_points(courses)
    patients = sorted({p for p, _, _ in points})
    figure = _figure(10, 4)
    axes = figure.subplots()
    for number in sorted({n for _, n, _ in points}):
        chosen = [(patients.index(p), v) for p, n, v in points if n == number]
        axes.scatter([x for x, _ in chosen], [v for _, v in chosen], label=f"dose {number}")
    axes.set_xticks(range(len(patients)), patients, rotation=60)
    axes.set_ylabel("cells/kg (×10⁶)")
    axes.legend()
    return _png(figure)
