"""The cohort report: the source paper's summary figures computed from the record.

Two halves. `reports.records.load_courses(patients)` reads the record of a set of patients
in a fixed number of queries (whatever the cohort's size) into plain `Course` values;
`figures()` and `patient_row()` here compute from those values only, so the rules can be
tested without a database. Nothing here is stored: every figure is recomputed from the
records each time.

The rules (clinical improvement, evaluability, which dose counts) are written out in
docs/cohort-report.md; keep that file and this one in step.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

from reports.stats import summarise

# The six WHO-UMC causality categories, strongest first, and those that count as
# "related" (possible or stronger).
CAUSALITIES = ("certain", "probable", "possible", "unlikely", "conditional", "unassessable")
RELATED = frozenset({"certain", "probable", "possible"})

# Day-5 laboratory values and the change expected of a patient who improves.
LAB_EXPECTED = {
    "crp": "decrease",
    "ldh": "decrease",
    "d_dimer": "decrease",
    "ferritin": "decrease",
    "il6": "decrease",
    "lymphocytes": "increase",
}
LAB_DAY = 5
WHO_SCALE = "who_scale"
IMV, ECMO = "imv", "ecmo"
EXTUBATION, ICU_DISCHARGE, DEATH = "extubation", "icu_discharge", "death"
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DoseFact:
    number: int
    given_at: datetime.datetime
    cells_per_kg: Fraction | None
    donor_id: int | None
    batch_code: str
    protocol: str  # code
    protocol_version: int
    method: str  # "thawed" | "refreshed" | ""


@dataclass(frozen=True)
class Course:
    """What the report needs of one patient, read from the record.

    Frozen; what the rules derive from it more than once (day 0, each kind's
    observations in order, the criteria met) is computed once per course and kept
    (`cached_property` writes the instance's `__dict__`, which a frozen dataclass allows):
    at 20,000 patients the rules were called some 200,000 times each."""

    code: str
    hospital: str
    doses: tuple[DoseFact, ...]
    admitted_on: datetime.date | None = None
    follow_up_ended_on: datetime.date | None = None
    # (kind, started_at, ended_at or None)
    supports: tuple[tuple[str, datetime.datetime, datetime.datetime | None], ...] = ()
    # (taken_on, Wong score)
    xrays: tuple[tuple[datetime.date, int], ...] = ()
    # (kind, observed_at, value)
    observations: tuple[tuple[str, datetime.datetime, Decimal], ...] = ()
    # kind -> first date it happened
    outcomes: dict[str, datetime.date] = field(default_factory=dict)
    adverse_causalities: tuple[str, ...] = ()

    @property
    def dose1(self) -> DoseFact:
        return self.doses[0]

    @cached_property
    def day0(self) -> datetime.date:
        return self.doses[0].given_at.date()

    @cached_property
    def series(self) -> dict[str, list[tuple[datetime.datetime, Decimal]]]:
        """kind → its (observed_at, value) pairs, sorted (by time, then value)."""
        by_kind: dict[str, list] = {}
        for kind, at, value in self.observations:
            by_kind.setdefault(kind, []).append((at, value))
        for values in by_kind.values():
            values.sort()
        return by_kind

    @cached_property
    def criteria(self) -> tuple[str, ...]:
        return tuple(_criteria(self))

    @cached_property
    def excluded(self) -> str:
        return _excluded(self)

    @cached_property
    def ventilation_days(self) -> Fraction | None:
        given = self.doses[0].given_at
        starts = [s for kind, s, _ in self.supports if kind == IMV and s <= given]
        return _days(given - min(starts)) if starts else None

    @cached_property
    def lab_pairs(self) -> dict[str, tuple[Decimal, Decimal] | None]:
        return {kind: _lab_pair(self, kind) for kind in LAB_EXPECTED}


def _days(delta: datetime.timedelta) -> Fraction:
    return Fraction(int(delta.total_seconds()), SECONDS_PER_DAY)


def days_between(start: datetime.datetime, end: datetime.datetime) -> Fraction:
    """Days (as a fraction) from `start` to `end`."""
    return _days(end - start)


# --- the rules, one function each (docs/cohort-report.md) ---------------------------------


def extubated(course: Course) -> bool:
    return EXTUBATION in course.outcomes


def died(course: Course) -> bool:
    return DEATH in course.outcomes


def who_improved(course: Course) -> bool:
    """At least one point less on the WHO scale than on the day of dose 1 (the baseline:
    the last value of that day recorded at or before the infusion, else that day's first)."""
    scores = course.series.get(WHO_SCALE, ())
    same_day = [(at, v) for at, v in scores if at.date() == course.day0]
    if not same_day:
        return False
    before = [v for at, v in same_day if at <= course.dose1.given_at]
    baseline = before[-1] if before else same_day[0][1]
    later = [v for at, v in scores if at.date() > course.day0]
    return bool(later) and min(later) <= baseline - 1


def radiographic_improvement(course: Course) -> bool:
    """A Wong score after the day of dose 1 lower than the last one on or before it."""
    before = [score for taken_on, score in course.xrays if taken_on <= course.day0]
    after = [score for taken_on, score in course.xrays if taken_on > course.day0]
    return bool(before) and bool(after) and min(after) < before[-1]


def improvement_criteria(course: Course) -> list[str]:
    """Which of the paper's criteria of clinical improvement the patient met after dose 1:
    extubation, ICU discharge, radiographic improvement, ≥ 1 point less on the WHO scale."""
    return list(course.criteria)


def _criteria(course: Course) -> list[str]:
    met = []
    for kind in (EXTUBATION, ICU_DISCHARGE):
        if kind in course.outcomes and course.outcomes[kind] >= course.day0:
            met.append(kind)
    if radiographic_improvement(course):
        met.append("radiographic")
    if who_improved(course):
        met.append("who_scale")
    return met


def improved(course: Course) -> bool:
    return bool(course.criteria)


def lab_excluded(course: Course) -> str:
    """Why the patient is left out of the day-5 laboratory analysis ("" if not): died
    within 24 h of dose 1, or on ECMO at any time before day 5."""
    return course.excluded


def _excluded(course: Course) -> str:
    if died(course) and course.outcomes[DEATH] <= course.day0 + datetime.timedelta(days=1):
        return "died within 24 h of dose 1"
    day5 = course.day0 + datetime.timedelta(days=LAB_DAY)
    for kind, started_at, ended_at in course.supports:
        ongoing_at_dose1 = ended_at is None or ended_at > course.dose1.given_at
        if kind == ECMO and started_at.date() < day5 and ongoing_at_dose1:
            return "on ECMO before day 5"
    return ""


def lab_pair(course: Course, kind: str) -> tuple[Decimal, Decimal] | None:
    """(before, day 5) of one lab value, or None when either is missing: before is the
    last value at or before the infusion of dose 1 (not earlier than the day before);
    day 5 is the last value on the fifth calendar day after dose 1."""
    if kind in LAB_EXPECTED:
        return course.lab_pairs[kind]
    return _lab_pair(course, kind)


def _lab_pair(course: Course, kind: str) -> tuple[Decimal, Decimal] | None:
    values = course.series.get(kind, ())
    earliest = course.day0 - datetime.timedelta(days=1)
    before = [v for at, v in values if earliest <= at.date() and at <= course.dose1.given_at]
    target = course.day0 + datetime.timedelta(days=LAB_DAY)
    day5 = [v for at, v in values if at.date() == target]
    if not before or not day5:
        return None
    return before[-1], day5[-1]


def lab_as_expected(course: Course, kind: str) -> bool | None:
    """None when not evaluable; else whether the day-5 value moved the expected way."""
    if course.excluded:
        return None
    pair = lab_pair(course, kind)
    if pair is None:
        return None
    before, after = pair
    return after < before if LAB_EXPECTED[kind] == "decrease" else after > before


def days_ventilation_to_dose1(course: Course) -> Fraction | None:
    return course.ventilation_days


def days_dose1_to_dose2(course: Course) -> Fraction | None:
    if len(course.doses) < 2:
        return None
    return _days(course.doses[1].given_at - course.doses[0].given_at)


def follow_up_days(course: Course) -> int | None:
    if course.follow_up_ended_on is None:
        return None
    return (course.follow_up_ended_on - course.day0).days


def preparation(course: Course) -> str:
    """The patient's preparation is that of dose 1 (each patient had one method)."""
    return course.dose1.method


# --- the figures ---------------------------------------------------------------------------


def _summary(values: Iterable, places: int = 2) -> dict:
    return summarise([v for v in values if v is not None]).as_dict(places)


def figures(courses: list[Course]) -> dict:
    """Every figure of the report (see the OpenAPI schema of /api/v1/reports/cohort/)."""
    courses = [c for c in courses if c.doses]
    dose_counts = Counter(str(min(len(c.doses), 3)) for c in courses)
    methods = Counter(preparation(c) for c in courses)
    causality = Counter(cause for c in courses for cause in c.adverse_causalities)
    improved_courses = [c for c in courses if improved(c)]
    lab = {}
    for kind, expected in LAB_EXPECTED.items():
        results = [lab_as_expected(c, kind) for c in improved_courses]
        lab[kind] = {
            "expected": expected,
            "as_expected": sum(1 for r in results if r),
            "evaluable": sum(1 for r in results if r is not None),
        }
    return {
        "patients_treated": len(courses),
        "donors": len({d.donor_id for c in courses for d in c.doses if d.donor_id}),
        "doses": sum(len(c.doses) for c in courses),
        "doses_per_patient": {key: dose_counts.get(key, 0) for key in ("1", "2", "3")},
        "preparation": {key: methods.get(key, 0) for key in ("thawed", "refreshed")},
        "cells_per_kg_per_dose": _summary(d.cells_per_kg for c in courses for d in c.doses),
        "days_dose1_to_dose2": _summary(days_dose1_to_dose2(c) for c in courses),
        "days_ventilation_to_dose1": {
            "all": _summary(days_ventilation_to_dose1(c) for c in courses),
            "extubated": _summary(days_ventilation_to_dose1(c) for c in courses if extubated(c)),
            "not_extubated": _summary(
                days_ventilation_to_dose1(c) for c in courses if not extubated(c)
            ),
        },
        "follow_up_days": _summary(follow_up_days(c) for c in courses),
        "outcomes": {
            "improved": len(improved_courses),
            "extubated": sum(1 for c in courses if extubated(c)),
            "icu_discharged": sum(1 for c in courses if ICU_DISCHARGE in c.outcomes),
            "died": sum(1 for c in courses if died(c)),
            "still_ventilated": sum(1 for c in courses if not extubated(c) and not died(c)),
            "ecmo": sum(1 for c in courses if any(k == ECMO for k, _, _ in c.supports)),
        },
        "adverse_events_by_causality": {key: causality.get(key, 0) for key in CAUSALITIES},
        "related_adverse_events": sum(causality[key] for key in RELATED),
        "lab_day5": lab,
    }


def _decimal(value: Fraction | None, places: int = 2) -> float | None:
    return None if value is None else round(float(value), places)


def patient_row(course: Course) -> dict:
    """One patient's line of the report: the values every figure is computed from."""
    criteria = improvement_criteria(course)
    return {
        "patient": course.code,
        "hospital": course.hospital,
        "protocol": course.dose1.protocol,
        "protocol_versions": sorted({d.protocol_version for d in course.doses}),
        "doses": len(course.doses),
        "batches": sorted({d.batch_code for d in course.doses}),
        "preparation": preparation(course),
        "dose1_at": course.dose1.given_at.isoformat(),
        "cells_per_kg": [_decimal(d.cells_per_kg, 0) for d in course.doses],
        "days_dose1_to_dose2": _decimal(days_dose1_to_dose2(course)),
        "days_ventilation_to_dose1": _decimal(days_ventilation_to_dose1(course)),
        "follow_up_days": follow_up_days(course),
        "extubated": extubated(course),
        "icu_discharged": ICU_DISCHARGE in course.outcomes,
        "died": died(course),
        "ecmo": any(k == ECMO for k, _, _ in course.supports),
        "improved": bool(criteria),
        "improvement_criteria": criteria,
        "lab_excluded": lab_excluded(course),
        "lab_day5": {kind: lab_as_expected(course, kind) for kind in LAB_EXPECTED},
        "related_adverse_events": sum(1 for c in course.adverse_causalities if c in RELATED),
    }
