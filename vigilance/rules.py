"""Pure vigilance rules: when a reaction notification is overdue, and whether part A or
B may be submitted as filled in. Nothing here writes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from vigilance.imputability import RELATED_LEVELS, WHO_UMC_TO_IMPUTABILITY, is_related

RELATED_CAUSALITIES = tuple(
    c for c, level in WHO_UMC_TO_IMPUTABILITY.items() if level in RELATED_LEVELS
)


@dataclass(frozen=True)
class Failure:
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return self.message


def report_deadline(event) -> datetime.datetime:
    """When part A of a notification about `event` is due: `REACTION_REPORT_HOURS` after
    the event was recorded."""
    return event.reported_at + datetime.timedelta(hours=settings.REACTION_REPORT_HOURS)


def is_reportable(event) -> bool:
    """Serious and at least possibly related (WHO-UMC certain, probable or possible)."""
    return bool(event.serious) and is_related(event.causality)


def is_overdue(event, *, part_a_submitted: bool, now: datetime.datetime) -> bool:
    """A reportable event with no part A submitted by its deadline is overdue."""
    return is_reportable(event) and not part_a_submitted and now > report_deadline(event)


def overdue_filter(now: datetime.datetime) -> Q:
    """`is_overdue` as a filter on adverse events (the worklists' query)."""
    due = now - datetime.timedelta(hours=settings.REACTION_REPORT_HOURS)
    return Q(serious=True, causality__in=RELATED_CAUSALITIES, reported_at__lt=due) & (
        Q(reaction_report__isnull=True) | Q(reaction_report__part_a_signature__isnull=True)
    )


def part_a_failures(event, *, reaction_type: str, already: bool) -> list[Failure]:
    """Why part A about `event` may not be submitted: one already was; the event is not
    serious (only serious reactions are notified); no type of reaction written."""
    failures = []
    if already:
        failures.append(Failure("Part A about this event was already submitted."))
    if not event.serious:
        failures.append(
            Failure("Only a serious adverse reaction is notified: the event is not serious.")
        )
    if not reaction_type.strip():
        failures.append(Failure("Describe the type of reaction.", "reaction_type"))
    return failures


def part_b_failures(report, *, confirmed, clinical_outcome: str, corrective_measures: str):
    """Why part B may not be submitted: no part A yet, part B already submitted, no
    confirmation answer, no outcome, no corrective measures written."""
    failures = []
    if report.part_a_signature_id is None:
        failures.append(Failure("Submit and sign part A first."))
    if report.part_b_signature_id is not None:
        failures.append(Failure(f"Part B of {report.code} was already submitted."))
    if confirmed is None:
        failures.append(Failure("Say whether the serious reaction is confirmed.", "confirmed"))
    if not clinical_outcome:
        failures.append(Failure("Give the clinical outcome.", "clinical_outcome"))
    if not corrective_measures.strip():
        failures.append(
            Failure("Describe the corrective measures (or write 'none').", "corrective_measures")
        )
    return failures
