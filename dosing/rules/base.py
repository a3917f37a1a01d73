"""The shape of a failure and the checks every step shares: dose state, patient alive,
batch usable, the dose range and its named override."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from batches.rules import batch_problem
from core.formatting import fmt_cells
from dosing.calculator import DoseRange, cells_per_kg, cells_range
from dosing.models import Dose, Protocol
from patients.models import ClinicalOutcome, Patient

S = Dose.Status


@dataclass(frozen=True)
class Failure:
    """One reason a step may not go on, and the form field it belongs to (if one)."""

    message: str
    field: str | None = None

    def __str__(self) -> str:
        return self.message


def stopped_failure(dose: Dose) -> Failure | None:
    """A dose stopped by its batch's recall: the refusal names the recall (through the
    bag-usability rule `batches.rules.batch_problem`)."""
    if dose.status != S.STOPPED:
        return None
    today = timezone.localdate()
    why = (batch_problem(dose.batch, today) if dose.batch else None) or dose.stop_reason
    return Failure(
        f"Dose {dose.code} is stopped: {why} Its course may continue only from another "
        "batch, with a named physician's override."
    )


def status_failures(dose: Dose, wanted: str, step: str) -> list[Failure]:
    """A step that only a dose in state `wanted` may take ("only an ordered dose …")."""
    if dose.status == wanted:
        return []
    stopped = stopped_failure(dose)
    if stopped is not None:
        return [stopped]
    return [
        Failure(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: only "
            f"{_article(S(wanted).label.lower())} dose can be {step}."
        )
    ]


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def alive_failures(patient: Patient, on_date: datetime.date) -> list[Failure]:
    """A step towards a patient recorded dead on or before `on_date`."""
    death = patient.outcomes.filter(
        kind=ClinicalOutcome.Kind.DEATH, occurred_on__lte=on_date
    ).first()
    if death is None:
        return []
    return [
        Failure(
            f"Patient {patient.code} is recorded as deceased on {death.occurred_on}: no dose "
            "may be allocated, prepared or dispensed. Cancel the dose (its bags are released "
            "or discarded)."
        )
    ]


def batch_failures(dose: Dose, on_date: datetime.date) -> list[Failure]:
    """The dose's batch no longer usable on `on_date` (see `batches.rules.batch_problem`)."""
    if dose.batch is None:
        return []
    problem = batch_problem(dose.batch, on_date)
    return [Failure(f"Dose {dose.code}: {problem}")] if problem else []


def step_failures(dose: Dose, on_date: datetime.date) -> list[Failure]:
    """What every step towards the bedside re-checks: the patient alive, the batch usable."""
    return alive_failures(dose.patient, on_date) + batch_failures(dose, on_date)


def range_text(protocol: Protocol) -> str:
    return (
        f"{fmt_cells(protocol.min_cells_per_kg)}–{fmt_cells(protocol.max_cells_per_kg)}/kg "
        f"({protocol})"
    )


@dataclass(frozen=True)
class OverrideCheck:
    """Whether `cells` may be given: within range, covered by the dose's override, or a
    new named override (`new`); `failures` say why not."""

    physician: str
    reason: str
    new: bool = False
    failures: tuple[Failure, ...] = ()


def override_check(
    dose: Dose, cells: int, *, physician: str, reason: str, what: str
) -> OverrideCheck:
    """A total outside the range is refused unless the protocol allows a named override.

    An override covers only the total it approved (`dose.override_cells`): a different
    total outside the range (a refreshed viable count) needs a fresh named physician and
    written reason.
    """
    protocol = dose.protocol
    kept = OverrideCheck(dose.override_physician, dose.override_reason)
    low, high = cells_range(dose.weight_kg, DoseRange.from_protocol(protocol))
    if low <= cells <= high:
        return kept
    per_kg = fmt_cells(cells_per_kg(cells, dose.weight_kg))
    problem = (
        f"{what} gives {fmt_cells(cells)} cells = {per_kg}/kg for {dose.weight_kg} kg, "
        f"outside the acceptable range {range_text(protocol)}."
    )
    if dose.has_override and dose.override_cells == cells:
        return kept
    if not protocol.overrides_allowed:
        refusal = Failure(f"{problem} This protocol allows no override.")
        return OverrideCheck("", "", failures=(refusal,))
    physician, reason = physician.strip(), reason.strip()
    if physician and reason:
        return OverrideCheck(physician, reason, new=True)
    earlier = ""
    if dose.has_override:
        earlier = (
            f" The override by {dose.override_physician} approved "
            f"{fmt_cells(dose.override_cells)} cells, not this total."
        )
    message = (
        f"{problem}{earlier} To give it anyway, name the physician who orders the "
        "override and write the reason."
    )
    return OverrideCheck("", "", failures=(Failure(message, "override_physician"),))
