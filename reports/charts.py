"""The report's charts: what each one shows, as pure data (tested without a plotting
library); `reports.plots` renders that data as PNG with matplotlib on the server, so the
page shows them as `<img src>` and its Content-Security-Policy needs no inline style.

- Figure 1 (`swimlanes`): a lane per patient, in days from dose 1; doses as arrows,
  invasive ventilation and ECMO as coloured bars, the outcome as a marker.
- Figure 3 (`lab_lines`): per lab value, a line before → day 5 per evaluable improved
  patient.
- Cells/kg per dose per patient (`cells_per_kg_points`).

A lane per patient is unreadable past a few dozen: Figure 1 (and its table on the page)
shows the first `SWIMLANE_LIMIT` treated patients by the date of dose 1 and says so; the
statistics and the other charts cover everyone.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from reports import cohort

CHARTS = ("swimlanes", "labs", "cells")
SWIMLANE_LIMIT = 60


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


def by_dose1(courses: list[cohort.Course]) -> list[cohort.Course]:
    """The treated patients in order of dose 1 (then code)."""
    return sorted((c for c in courses if c.doses), key=lambda c: (c.dose1.given_at, c.code))


def first_lanes(courses: list[cohort.Course], limit: int | None = None):
    """(the first `limit` (default `SWIMLANE_LIMIT`) treated courses by dose 1, how many
    are treated, the caption)."""
    limit = SWIMLANE_LIMIT if limit is None else limit
    treated = by_dose1(courses)
    shown = treated[:limit]
    if len(treated) > len(shown):
        caption = f"First {len(shown)} of {len(treated)} patients by date of dose 1"
    else:
        caption = f"All {len(treated)} patients, by date of dose 1"
    return shown, len(treated), caption


@dataclass(frozen=True)
class SwimlaneData:
    lanes: tuple[Lane, ...]
    caption: str


@dataclass(frozen=True)
class CellsData:
    patients: tuple[str, ...]  # in order of dose 1
    points: tuple[tuple[str, int, float], ...]


def chart_data(name: str, courses: list[cohort.Course]):
    """What chart `name` draws (its rendering is a function of this value only, so a hash
    of it names the rendered PNG)."""
    if name == "swimlanes":
        shown, _, caption = first_lanes(courses)
        return SwimlaneData(tuple(swimlanes(shown)), caption)
    if name == "labs":
        return lab_lines(courses)
    treated = by_dose1(courses)
    return CellsData(tuple(c.code for c in treated), tuple(cells_per_kg_points(treated)))


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


def available() -> bool:
    """Whether the plotting library (matplotlib) is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
