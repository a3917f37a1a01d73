"""Floors and ceilings of recorded moments (DESIGN.md "Records are true in time").

A clinical or GMP event cannot precede the programme's start (`PROGRAMME_START_DATE`, a
setting) and a birth cannot precede `BIRTH_FLOOR`; an event that has happened cannot lie
in the future. Each app's `clean()` and services ask here, so the floor is one fact.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone

BIRTH_FLOOR = datetime.date(1900, 1, 1)
# A clock a few minutes fast on the recording device is not a future event.
CLOCK_SLACK = datetime.timedelta(minutes=5)


def programme_start() -> datetime.date:
    return settings.PROGRAMME_START_DATE


def _day(value: datetime.date | datetime.datetime) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


def moment_problem(
    value: datetime.date | datetime.datetime | None,
    *,
    what: str,
    floor: datetime.date | None = None,
    now: datetime.datetime | None = None,
    future: bool = False,
) -> str | None:
    """Why `value` cannot be the date (or time) of `what`: before `floor` (the programme's
    start by default), or in the future unless `future` (a plan). None when plausible."""
    if value is None:
        return None
    floor = floor or programme_start()
    if _day(value) < floor:
        return f"{what} cannot be before {floor:%Y-%m-%d}."
    if not future:
        now = now or timezone.now()
        if isinstance(value, datetime.datetime):
            if value > now + CLOCK_SLACK:
                return f"{what} cannot be in the future."
        elif value > timezone.localdate(now):
            return f"{what} cannot be in the future."
    return None


def moment_errors(field: str, value, **kwargs) -> dict[str, str]:
    """`moment_problem` as a `ValidationError` dict for `field` (empty when plausible)."""
    problem = moment_problem(value, **kwargs)
    return {field: problem} if problem else {}
