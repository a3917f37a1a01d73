"""Plausibility and time order of the clinical-course records (pure: no writes).

Each function returns every failure as `(field, message)`, so a form shows each beside
its field and the service refuses with all of them. The rules: a date is not before the
patient's birth and not in the future; an end follows its start; a period of support
starts on or after the hospital admission and does not overlap another of its kind.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.utils import timezone

Failure = tuple[str | None, str]


def earliest_possible_day(patient) -> datetime.date | None:
    """The earliest day a record of `patient` can bear: the date of birth, or, from the
    age recorded at registration, the first day that age allows."""
    if patient.birth_date:
        return patient.birth_date
    if patient.age_years is None:
        return None
    registered = timezone.localdate(patient.created_at) if patient.created_at else None
    if registered is None:
        return None
    try:
        return registered.replace(year=registered.year - patient.age_years - 1)
    except ValueError:  # 29 February
        return registered.replace(month=2, day=28, year=registered.year - patient.age_years - 1)


def _day(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


def date_failures(patient, field: str, value, *, now=None) -> list[Failure]:
    """A date (or time) of the patient's record: not before birth, not in the future."""
    if value is None:
        return []
    now = now or timezone.now()
    failures: list[Failure] = []
    if isinstance(value, datetime.datetime):
        if value > now + datetime.timedelta(minutes=5):
            failures.append((field, "This time is in the future."))
    elif value > timezone.localdate(now):
        failures.append((field, "This date is in the future."))
    earliest = earliest_possible_day(patient)
    if earliest is not None and _day(value) < earliest:
        failures.append((field, f"This date is before {patient.code} was born ({earliest})."))
    return failures


def stay_failures(patient, *, admitted_on, follow_up_ended_on, now=None) -> list[Failure]:
    failures = date_failures(patient, "admitted_on", admitted_on, now=now)
    failures += date_failures(patient, "follow_up_ended_on", follow_up_ended_on, now=now)
    if admitted_on and follow_up_ended_on and follow_up_ended_on < admitted_on:
        failures.append(
            ("follow_up_ended_on", "The end of follow-up cannot precede the admission.")
        )
    return failures


def period_failures(
    patient,
    *,
    kind: str,
    started_at,
    ended_at,
    admitted_on: datetime.date | None,
    others: Iterable,
    now=None,
) -> list[Failure]:
    """A period of invasive ventilation or ECMO: plausible times, end after start, on or
    after the admission, and no overlap with another period of the same kind (`others`:
    the patient's other periods)."""
    failures = date_failures(patient, "started_at", started_at, now=now)
    failures += date_failures(patient, "ended_at", ended_at, now=now)
    if started_at and ended_at and ended_at <= started_at:
        failures.append(("ended_at", "The end must come after the start."))
    if admitted_on and started_at and _day(started_at) < admitted_on:
        failures.append(("started_at", f"This is before the hospital admission ({admitted_on})."))
    far = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    for other in others:
        if other.kind != kind or started_at is None:
            continue
        if started_at < (other.ended_at or far) and other.started_at < (ended_at or far):
            failures.append(
                (
                    "started_at",
                    f"This overlaps the period recorded from {other.started_at:%Y-%m-%d %H:%M}.",
                )
            )
    return failures
