"""The cohort report for a reader and a filter: what the API and the page both show."""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django import forms
from django.core.cache import cache
from django.utils import timezone

from audit.models import AuditEvent
from reports import charts, cohort, records
from reports.models import PublishedFigure
from sites.scope import site_scope

# The report's own entry points need every record they summarise.
REQUIRED_PERMISSIONS = (
    "patients.view_patient",
    "patients.view_hospitalstay",
    "dosing.view_dose",
    "dosing.view_adverseevent",
)


class CohortFilter(forms.Form):
    """Filters: hospital code, protocol code (of dose 1), period of dose 1 (inclusive)."""

    hospital = forms.CharField(required=False, max_length=20, help_text="Hospital code.")
    protocol = forms.CharField(required=False, max_length=40, help_text="Protocol code.")
    since = forms.DateField(required=False, help_text="Dose 1 on or after (YYYY-MM-DD).")
    until = forms.DateField(required=False, help_text="Dose 1 on or before (YYYY-MM-DD).")

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end of the period cannot precede its start.")
        return data


@dataclass
class CohortReport:
    courses: list[cohort.Course]
    figures: dict
    published: dict  # figure path -> {"value", "as_published", "source"}; {} if none

    def rows(self, limit: int | None = None) -> list[dict]:
        """The per-patient rows (by patient code), the first `limit` only if given."""
        with gc_paused():
            return [cohort.patient_row(course) for course in self.courses[:limit]]

    def lanes(self) -> list[dict]:
        """Figure 1 as text, beside its image: a lane per patient it shows (the first
        `charts.SWIMLANE_LIMIT` by dose 1) with each dose's day from dose 1, its cells per
        kg (×10⁶) and preparation, and the outcome."""
        lanes = []
        for course in charts.first_lanes(self.courses)[0]:
            start = course.dose1.given_at
            doses = [
                {
                    "number": dose.number,
                    "day": round(float(cohort.days_between(start, dose.given_at)), 1),
                    "cells_per_kg": None
                    if dose.cells_per_kg is None
                    else round(float(dose.cells_per_kg) / 1_000_000, 2),
                    "method": dose.method,
                }
                for dose in course.doses
            ]
            if cohort.died(course):
                outcome = "died"
            elif cohort.extubated(course):
                outcome = "extubated"
            else:
                outcome = "still ventilated"
            lanes.append({"patient": course.code, "doses": doses, "outcome": outcome})
        return lanes


def courses_for(user, filters: dict) -> list[cohort.Course]:
    """The courses of the patients `user` may see under `filters` (what the charts draw)."""
    patients = records.cohort_patients(
        user,
        hospital=filters.get("hospital") or "",
        protocol=filters.get("protocol") or "",
        since=filters.get("since"),
        until=filters.get("until"),
    )
    return records.load_courses(patients)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while the report builds millions of small
    acyclic objects (tuples, datetimes, Fractions): each of its passes walks every live
    object, and at 20,000 patients they were half the time of the figures. Reference
    counting still frees everything; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build(user, filters: dict) -> CohortReport:
    with gc_paused():
        courses = courses_for(user, filters)
        return CohortReport(courses, cohort.figures(courses), published_for(courses))


def published_for(courses: list[cohort.Course]) -> dict:
    """The published figures of the cohort's protocol, when every patient's dose 1 used
    one protocol that a publication reports on (one query)."""
    codes = {course.dose1.protocol for course in courses if course.doses}
    if len(codes) != 1:
        return {}
    return {
        row.figure: {
            "value": float(row.value),
            "as_published": row.as_published,
            "source": row.source,
        }
        for row in PublishedFigure.objects.filter(protocol_code=codes.pop())
    }


def flat(figures: dict, prefix: str = "") -> list[tuple[str, object]]:
    """The figures as (dotted path, value) pairs, in the report's order."""
    pairs = []
    for key, value in figures.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            pairs.extend(flat(value, f"{path}."))
        else:
            pairs.append((path, value))
    return pairs


# Bumped whenever what `figures` computes changes, so that figures kept by the previous
# code are not served after a deployment (they would also expire after the timeout).
FIGURES_GENERATION = 1
FIGURES_TIMEOUT_SECONDS = 15 * 60


def figures_key(user, filters: dict) -> str:
    """Where the figures for `user` and `filters` are kept, valid while the audit trail's
    head is where it is. Every change to a record the report reads (patients, their
    records, doses, infusions, adverse events, protocols, published figures) appends an
    event to the trail in its own transaction, and events are appended one transaction
    at a time, so the head's `seq` moves with every committed change: figures kept under
    an older head are never read again. The head (its number and hash) is read where the
    report's rows are (the replica, when the request reads from it) and before them, so
    the figures kept under a head are never older than it. The reader's sites and time
    zone are in the key: no reader gets figures computed over another's records."""
    # With the head's hash: after a restore to an earlier point, new events take the
    # same numbers again, never the same hashes.
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first() or (0, "")
    scope = site_scope(user)
    parts = [
        f"g{FIGURES_GENERATION}",
        f"h{head[0]}:{head[1]}",
        "network" if scope.network_wide else "",
        ",".join(map(str, sorted(scope.facility_ids))),
        ",".join(map(str, sorted(scope.hospital_ids))),
        timezone.get_current_timezone_name(),
        *(f"{name}={filters.get(name) or ''}" for name in sorted(CohortFilter.base_fields)),
    ]
    return "cohort-figures:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def cached_figures(user, filters: dict) -> dict:
    """The report's figures with the published ones (`{**figures, "published": …}`), as
    `build` computes them, computed at most once per change of the record for each
    reader's sites and filter (`figures_key`)."""
    key = figures_key(user, filters)
    figures = cache.get(key)
    if figures is None:
        report = build(user, filters)
        figures = {**report.figures, "published": report.published}
        cache.set(key, figures, FIGURES_TIMEOUT_SECONDS)
    return figures
