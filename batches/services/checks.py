"""Recording a release check's result (pass/fail is computed by the check itself), and
deleting one recorded by mistake while the batch is in production. A result is measured
on a day between the batch's procurement and today (`tested_on_problem`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from batches.exceptions import BatchError
from batches.models import Batch, ReleaseCheck, SpecificationItem
from batches.services.base import delete_audited, lock_batch, save_validated
from batches.services.release import review_released
from core.formatting import plain_decimal
from core.plausibility import moment_problem, programme_start

MOVED_TO_ANOTHER_ITEM = (
    "A recorded result cannot be moved to another item or batch: correct its value, and "
    "record the other item as a new result."
)


def _check_of(batch: Batch, item: SpecificationItem, correcting: ReleaseCheck | None):
    """The stored result being corrected (locked), else the batch's result of `item`
    (re-recorded), else a new one. A stored result stays with its batch and item."""
    if correcting is not None:
        check = ReleaseCheck.objects.select_for_update().filter(pk=correcting.pk).first()
        if check is None:
            raise BatchError("This release check is no longer on file.")
        if (check.batch_id, check.item_id) != (batch.pk, item.pk):
            raise BatchError(MOVED_TO_ANOTHER_ITEM)
        return check
    check = ReleaseCheck.objects.filter(batch=batch, item=item).select_for_update().first()
    return check or ReleaseCheck(batch=batch, item=item)


def tested_on_problem(batch: Batch, item: SpecificationItem, tested_on) -> str | None:
    """Why `item` cannot have been measured for `batch` on `tested_on`: before the batch's
    procurement (its cells did not exist yet) or the programme's start, or in the future.
    None when plausible, or when `tested_on` is no date (the check's validation says so).
    `batch.procurement` is read: select it with the batch."""
    try:
        day = ReleaseCheck._meta.get_field("tested_on").to_python(tested_on)
    except ValidationError:
        return None
    procured = batch.procurement.procured_on if batch.procurement_id else None
    floor = max(filter(None, (procured, programme_start())))
    problem = moment_problem(day, what=f"{item.parameter}: the date measured", floor=floor)
    if problem and procured and day < procured:
        problem = problem.removesuffix(".") + f", the procurement of batch {batch.code}."
    return problem


@transaction.atomic
def record_check(
    batch: Batch,
    item: SpecificationItem,
    *,
    actor: AbstractBaseUser | None,
    tested_on: datetime.date,
    value: Decimal | int | str | None = None,
    text: str = "",
    reason: str = "",
    correcting: ReleaseCheck | None = None,
) -> ReleaseCheck:
    """Record (or re-record) the result of one specification item for a batch; or
    correct a stored result (`correcting`), which never moves to another item or batch.

    Pass/fail is computed by the check itself from the specification. A batch that the
    QP has released or rejected (or put back on hold) takes a result only as a
    correction with a written reason, which the audit event carries. If the batch is
    released and the result makes it fail a release rule, it is put on hold in the same
    transaction (see `hold`); the returned check's `holds` lists what was held.
    """
    batch = lock_batch(batch)
    if batch.reason_required({"status": batch.status}) and not reason.strip():
        raise BatchError(
            f"Batch {batch.code} has a QP decision (now {batch.get_status_display().lower()}"
            "): a result is a correction and needs a written reason."
        )
    problem = tested_on_problem(batch, item, tested_on)
    if problem:
        raise BatchError(problem, field="tested_on")
    check = _check_of(batch, item, correcting)
    check.result_value = Decimal(str(value)) if value not in (None, "") else None
    check.result_text = text or ""
    check.tested_on = tested_on
    save_validated(check, actor=actor, reason=reason, exclude=["passed"])
    _copy_to_batch(batch, item, check.result_value, actor=actor, reason=reason)
    check.holds = review_released(
        [batch], actor=actor, cause=f"{item.parameter} re-recorded", why=reason
    )
    return check


@transaction.atomic
def delete_check(check: ReleaseCheck, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Delete a result recorded by mistake: only while its batch is in production
    (`ReleaseCheck.deletion_refusal`); after that a result is corrected."""
    batch, item = check.batch, check.item
    delete_audited(check, actor=actor, reason=reason)
    _copy_to_batch(lock_batch(batch), item, None, actor=actor, reason=reason)


def _copy_to_batch(batch: Batch, item: SpecificationItem, value, *, actor, reason: str) -> None:
    """The batch's figure read from its check (`Batch.FROM_CHECKS`): viability before
    cryopreservation is typed once, as its release check, and the batch's field follows
    it in the same transaction, on the trail as the same actor and reason."""
    for field, category in Batch.FROM_CHECKS.items():
        if item.category == category and getattr(batch, field) != value:
            setattr(batch, field, value)
            save_validated(batch, actor=actor, reason=reason or f"from the {item.parameter} check")


@dataclass(frozen=True)
class Result:
    """One result to record for a batch's specification item: a number for a limit, a
    text for an expected result (`value_of`), measured on `tested_on`."""

    item: SpecificationItem
    value: Decimal | None
    text: str
    tested_on: datetime.date


def value_of(item: SpecificationItem, raw: str) -> tuple[Decimal | None, str]:
    """A typed result as the check stores it: (number, "") for a limit, (None, text) for
    an expected result. A number that is not one raises `BatchError`."""
    raw = (raw or "").strip()
    if item.kind == item.Kind.EXPECTED:
        return None, raw
    if not raw:
        return None, ""
    try:
        return Decimal(raw.replace(",", ".")), ""
    except InvalidOperation:
        raise BatchError(f"{item.parameter}: {raw!r} is not a number.") from None


def is_change(check: ReleaseCheck | None, result: Result) -> bool:
    """Whether `result` differs from the stored `check` (None: nothing stored yet)."""
    if check is None:
        return True
    return (check.result_value, check.result_text, check.tested_on) != (
        result.value,
        result.text,
        result.tested_on,
    )


def is_correction(check: ReleaseCheck | None, result: Result) -> bool:
    """Whether `result` changes a stored value (not only its date): a correction, which
    needs a written reason."""
    return check is not None and (check.result_value, check.result_text) != (
        result.value,
        result.text,
    )


@transaction.atomic
def record_results(
    batch: Batch,
    results: list[Result],
    *,
    actor: AbstractBaseUser | None,
    reason: str = "",
    source: str = "",
) -> list[ReleaseCheck]:
    """Record several results of one batch in one transaction, one audit event per check
    (the checks grid of the admin, an imported file): each through `record_check`.

    A result equal to the stored one is not written again. A result that changes a
    stored value is a correction: without a written `reason` the whole set is refused
    and nothing is written; so is it for a result measured on an implausible day
    (`tested_on_problem`), every refusal listed at once. `source` (e.g. an imported
    file's name and checksum) is added to every event's reason.
    """
    batch = lock_batch(batch)
    stored = {c.item_id: c for c in ReleaseCheck.objects.filter(batch=batch)}
    seen = set()
    refusals = []
    for result in results:
        if result.item.specification_id != batch.specification_id:
            refusals.append(f"{result.item.parameter} is not part of {batch.specification}.")
        if result.item.pk in seen:
            refusals.append(f"{result.item.parameter}: given twice.")
        seen.add(result.item.pk)
        if is_change(stored.get(result.item.pk), result):
            problem = tested_on_problem(batch, result.item, result.tested_on)
            if problem:
                refusals.append(problem)
        if is_correction(stored.get(result.item.pk), result) and not reason.strip():
            refusals.append(
                f"{result.item.parameter}: changes the stored result "
                f"({_shown(stored[result.item.pk])}); a correction needs a written reason."
            )
    if refusals:
        raise BatchError(refusals)
    why = "; ".join(part for part in (reason.strip(), source) if part)
    saved = []
    for result in results:
        check = stored.get(result.item.pk)
        if not is_change(check, result):
            continue
        saved.append(
            record_check(
                batch,
                result.item,
                actor=actor,
                tested_on=result.tested_on,
                value=result.value,
                text=result.text,
                reason=why,
                correcting=check,
            )
        )
    return saved


def _shown(check: ReleaseCheck) -> str:
    if check.result_value is not None:
        return plain_decimal(check.result_value)
    return check.result_text or "(empty)"
