"""Pure production rules: donor eligibility, check evaluation, release failures, and
whether a batch may go on towards a patient.

Nothing here writes to the database, so admin pages can show the result before anything
is committed and tests can cover the boundaries directly (Hypothesis).

Direction of imports: `batches.models` imports this module (a check's pass/fail is
computed here); this module never imports `batches.models`, not even inside a function.
Its functions work on the records they are given, and reach a model's choices through
them (`batch.Status`, `donor.serology.model.Test`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from audit.models import Signature
from audit.signatures import signature_matches
from core.formatting import fmt_time, plain_decimal

MAX_DONOR_AGE_EXCLUSIVE = 50  # paper: donors younger than 50 years
MAX_POPULATION_DOUBLINGS_EXCLUSIVE = Decimal(20)  # paper: fewer than 20 doublings
MAX_PASSAGES_EXCLUSIVE = 2  # paper: fewer than 2 passages

# GMP practice (Directive 2006/17/EC, Annex II): donor blood samples are taken at the time
# of donation or up to 7 days after; for a living donor, up to 30 days before is accepted.
SEROLOGY_DAYS_BEFORE = 30
SEROLOGY_DAYS_AFTER = 7

MET = "met"
NOT_MET = "not_met"
MISSING = "missing"


@dataclass(frozen=True)
class Criterion:
    """One eligibility criterion, evaluated: its name, `met`/`not_met`/`missing`, why."""

    name: str
    status: str
    detail: str

    @property
    def met(self) -> bool:
        return self.status == MET


def _required_tests(tests):
    """The screening tests every donation needs, of the result model's `Test` choices."""
    return [tests.HIV, tests.HBSAG, tests.ANTI_HBC, tests.HCV, tests.SYPHILIS]


def _reference_date(donor, on_date, procurement) -> datetime.date | None:
    if on_date is not None:
        return on_date
    if procurement is not None:
        return procurement.procured_on
    dates = [p.procured_on for p in donor.procurements.all()]
    return max(dates) if dates else None


def _serology_criterion(test, label, results, ref, *, required: bool) -> Criterion:
    name = f"Serology {label}"
    if ref is None:
        if not required and not results:
            return Criterion(name, MET, "Not required; no result on file.")
        return Criterion(
            name, MISSING, "No procurement recorded: there is no donation date to date it."
        )
    start = ref - datetime.timedelta(days=SEROLOGY_DAYS_BEFORE)
    end = ref + datetime.timedelta(days=SEROLOGY_DAYS_AFTER)
    in_window = [r for r in results if start <= r.sampled_on <= end]
    reactive = [r for r in in_window if r.result != "negative"]
    if reactive:
        r = reactive[0]
        return Criterion(name, NOT_MET, f"{r.result} on a sample of {r.sampled_on}.")
    if in_window:
        latest = max(r.sampled_on for r in in_window)
        return Criterion(name, MET, f"Negative, sampled {latest}.")
    if not required and not results:
        return Criterion(name, MET, "Not required; no result on file.")
    if results:
        latest = max(r.sampled_on for r in results)
        detail = f"No result sampled between {start} and {end} (the latest was sampled {latest})."
    else:
        detail = f"No result on file (sample between {start} and {end})."
    return Criterion(name, MISSING, detail)


def donor_eligibility(
    donor, *, on_date: datetime.date | None = None, procurement=None
) -> list[Criterion]:
    """Every donor eligibility criterion, evaluated one by one.

    Rules (paper, plus GMP practice for serology): younger than 50 at donation; no
    comorbidities; no concomitant treatments; dated specific consent for clinical use;
    HIV-1/2, HBsAg, anti-HBc, HCV and syphilis each negative on a sample taken from 30
    days before to 7 days after the donation (HTLV only if tested: then it must be
    negative too). The donation date is `on_date`, else the given procurement's date,
    else the donor's latest procurement. A reactive or indeterminate result in the window
    makes the donor ineligible even if another sample was negative.
    """
    tests = donor.serology.model.Test
    criteria = []
    age = donor.age_at_donation
    if age is None:
        criteria.append(Criterion("Age under 50", MISSING, "Age at donation not recorded."))
    elif age < MAX_DONOR_AGE_EXCLUSIVE:
        criteria.append(Criterion("Age under 50", MET, f"{age} years at donation."))
    else:
        criteria.append(
            Criterion("Age under 50", NOT_MET, f"{age} years at donation: must be under 50.")
        )
    criteria.append(
        Criterion("No comorbidities", NOT_MET, "Comorbidities recorded.")
        if donor.has_comorbidities
        else Criterion("No comorbidities", MET, "None recorded.")
    )
    criteria.append(
        Criterion("No concomitant treatments", NOT_MET, "Concomitant treatments recorded.")
        if donor.has_concomitant_treatments
        else Criterion("No concomitant treatments", MET, "None recorded.")
    )
    if not donor.consent_for_clinical_use:
        criteria.append(
            Criterion("Consent for clinical use", NOT_MET, "No specific consent on file.")
        )
    elif donor.consent_signed_on is None:
        criteria.append(
            Criterion("Consent for clinical use", MISSING, "Consent date not recorded.")
        )
    else:
        criteria.append(
            Criterion("Consent for clinical use", MET, f"Signed {donor.consent_signed_on}.")
        )

    ref = _reference_date(donor, on_date, procurement)
    by_test: dict[str, list] = {}
    for result in donor.serology.all():
        by_test.setdefault(result.test, []).append(result)
    labels = dict(tests.choices)
    for test in _required_tests(tests):
        criteria.append(
            _serology_criterion(test, labels[test], by_test.get(test, []), ref, required=True)
        )
    htlv = tests.HTLV
    criteria.append(
        _serology_criterion(htlv, labels[htlv], by_test.get(htlv, []), ref, required=False)
    )
    return criteria


def is_donor_eligible(donor, *, on_date=None, procurement=None) -> bool:
    return all(c.met for c in donor_eligibility(donor, on_date=on_date, procurement=procurement))


def _as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def evaluate_check(item, value, text: str = "") -> bool:
    """Whether a result meets its specification item. Computed, never typed.

    `min`: the value is at least the lower limit; `max`: at most the upper limit
    (both inclusive, a missing value fails); `expected`: the text equals the expected
    result, ignoring case and surrounding spaces.
    """
    kind = item.kind
    if kind == "min":
        number = _as_decimal(value)
        return number is not None and number >= item.lower_limit
    if kind == "max":
        number = _as_decimal(value)
        return number is not None and number <= item.upper_limit
    return (text or "").strip().casefold() == item.expected_result.strip().casefold()


def _fmt(value) -> str:
    return plain_decimal(value) if isinstance(value, Decimal) else str(value)


def release_failures(
    batch,
    *,
    on_date: datetime.date | None = None,
    review: bool = False,
    submitting: bool = False,
) -> list[str]:
    """Every reason `batch` cannot be released now, one line each (empty: releasable).

    Checks the batch is in quarantine; every required item of its specification has a
    result and every recorded result passes its item's *current* limit (evaluated here,
    never the stored `passed` flag, so a limit edited after the result was recorded is
    honoured); population doublings recorded and under 20;
    passages recorded and under 2; viability before cryopreservation recorded (and equal
    to the viability check, if the specification has one); cryopreservation and expiry
    dates recorded, expiry not past; the procurement belongs to the batch's donor; the
    donor is eligible (each failing criterion named); the batch has bags.

    `review=True` re-checks a batch that is already released (after a correction): the
    rules about the release *step* are left out — the batch is not in quarantine, its
    bags have left quarantine, and passing the expiry date is handled by expiry, not by
    a hold — so what remains is whether its data still meets every release rule.

    `submitting=True` asks it of a batch production is about to submit (still in
    production): the rule that it be in quarantine is left out, the others stand.
    """
    on_date = on_date or timezone.localdate()
    failures: list[str] = []
    if not (review or submitting) and batch.status != batch.Status.QUARANTINE:
        failures.append(
            f"Batch is {batch.get_status_display().lower()}: only a batch in quarantine "
            "can be released."
        )

    checks = {c.item_id: c for c in batch.checks.all()}
    viability_checks = []
    for item in batch.specification.items.all():
        label = f"{item.parameter} ({item.criterion})"
        check = checks.get(item.pk)
        if check is None:
            if item.required:
                failures.append(f"{label}: no result recorded.")
            continue
        if item.category == "viability" and check.result_value is not None:
            viability_checks.append(check.result_value)
        if not evaluate_check(item, check.result_value, check.result_text):
            shown = (
                _fmt(check.result_value) if check.result_value is not None else check.result_text
            )
            failures.append(f"{label}: result {shown or '(empty)'} failed.")

    doublings = batch.population_doublings
    if doublings is None:
        failures.append("Population doublings not recorded.")
    elif doublings >= MAX_POPULATION_DOUBLINGS_EXCLUSIVE:
        failures.append(f"Population doublings {_fmt(doublings)}: must be fewer than 20.")
    if batch.passages is None:
        failures.append("Passages not recorded.")
    elif batch.passages >= MAX_PASSAGES_EXCLUSIVE:
        failures.append(f"Passages {batch.passages}: must be fewer than 2.")
    if batch.viability_pct is None:
        failures.append("Viability before cryopreservation not recorded.")
    elif any(v != batch.viability_pct for v in viability_checks):
        failures.append(
            f"Viability on the batch ({_fmt(batch.viability_pct)} %) differs from the "
            f"viability check ({_fmt(viability_checks[0])} %)."
        )
    if batch.cryopreserved_on is None:
        failures.append("Cryopreservation date not recorded.")
    if batch.expires_on is None:
        failures.append("Expiry date not recorded.")
    elif not review and batch.expires_on < on_date:
        failures.append(f"Batch expired on {batch.expires_on}.")

    if batch.procurement.donor_id != batch.donor_id:
        failures.append(f"Procurement {batch.procurement} is not from donor {batch.donor.code}.")
    for criterion in donor_eligibility(batch.donor, procurement=batch.procurement):
        if not criterion.met:
            word = "not met" if criterion.status == NOT_MET else "missing"
            failures.append(
                f"Donor {batch.donor.code} not eligible: {criterion.name} {word} — "
                f"{criterion.detail}"
            )
    # A batch held for review after release may have every bag already reserved or issued:
    # the QP judges the record again, not the stock.
    first_decision = not review and not batch.has_decision_signature()
    if first_decision and not any(b.status == "quarantine" for b in batch.bags.all()):
        failures.append("No bags in quarantine: create the batch's bags before release.")
    return failures


def identity_refusal(batch, fields) -> str | None:
    """Why `fields` of `batch` may not change, or None: a batch's identity (DIN, donor,
    procurement, facility, specification) is fixed once it has left production — it is
    what the QP judges and what the bags are labelled with."""
    fixed = sorted(set(fields) & set(batch.IDENTITY_FIELDS))
    if fixed and batch.status != batch.Status.IN_PRODUCTION:
        return (
            f"Batch {batch.code} is {batch.get_status_display().lower()}: its identity "
            f"({', '.join(fixed)}) is fixed once it has left production."
        )
    return None


def recall_code(batch) -> str:
    """The recall's reference, named in every refusal and on the lookback: a batch is
    recalled at most once (`recalled` is final), so its code names the recall."""
    return f"RC-{batch.code}"


def recall_problem(batch) -> str:
    """Why a recalled batch may not be used: the recall named by its code, with who
    signed it, when and why (the QP's `recalled` signature on the batch)."""
    signature = batch.signatures().filter(meaning=Signature.Meaning.RECALLED).order_by("pk").last()
    signed = ""
    if signature is not None:
        signed = f", signed by {signature.printed_name} on {fmt_time(signature.signed_at)}"
        if signature.comment:
            signed += f": {signature.comment}"
    return (
        f"batch {batch.code} is recalled (recall {recall_code(batch)}{signed}); nothing "
        "from it may reach a patient. Stop, return its bags to the pharmacy and see the "
        "recall's lookback."
    )


def batch_problem(batch, on_date: datetime.date, *, kept_hash: bool = False) -> str | None:
    """Why nothing of `batch` may go on towards a patient on `on_date`, or None.

    The one usability rule of every step (allocate, thaw, refresh, dispense, bedside scan,
    infusion). Recalled (the refusal names the recall, see `recall_problem`); not
    released; expired (or no expiry date) on that day; no QP decision signature, or a
    signature that no longer matches the batch record (corrected after release).

    Whether the signature matches is judged on the record rebuilt in full (one batch's
    step), or with `kept_hash` on the hash the batch services keep of it
    (`Batch.record_hash`): the same rule for many batches at once, without rebuilding
    any (the calculator's stock, read with `attach_decision_signatures`).
    """
    if batch.status == batch.Status.RECALLED:
        return recall_problem(batch)
    if batch.status != batch.Status.RELEASED:
        return (
            f"batch {batch.code} is {batch.get_status_display().lower()}, not released; "
            "nothing from it may reach a patient. Cancel the dose and order from released stock."
        )
    if batch.expires_on is None or batch.expires_on < on_date:
        return (
            f"batch {batch.code} expired on {batch.expires_on or 'an unrecorded date'} "
            f"(day of this step: {on_date}). Cancel the dose; its bags must not be used."
        )
    signature = batch.decision_signature()
    if signature is None or signature.meaning != Signature.Meaning.RELEASED:
        return (
            f"batch {batch.code} has no QP release signature on file. Ask the Qualified Person "
            "to review and sign the release before any of it is used."
        )
    if kept_hash:
        matches = batch.kept_hash_matches(signature)
    else:
        matches = signature_matches(signature, batch.signature_content())
    if not matches:
        return (
            f"batch {batch.code} was changed after the QP signed its release "
            f"({fmt_time(signature.signed_at)}, {signature.printed_name}): the signature no "
            "longer matches the batch record. Ask the Qualified Person to review the batch "
            "and sign again before any of it is used."
        )
    return None


def bag_unusable_reason(bag, *, on: datetime.date | None = None) -> str | None:
    """Why `bag` may not be used for a patient on `on` (today by default), or None.

    The one bag-usability rule, for every step that hands a bag on (the bedside scan,
    recalls, shipments): a bag discarded, expired or in quarantine (not yet released, or
    quarantined again after a shipment's temperature excursion) is refused with its
    reason; then its batch's (`batch_problem`: not released — recalled, rejected, on hold
    —, expired on that day, no QP release signature or one that no longer matches)."""
    on = on or timezone.localdate()
    status = bag.Status
    if bag.status == status.DISCARDED:
        reason = f": {bag.discard_reason}" if bag.discard_reason else ""
        return f"bag {bag.code} was discarded{reason}. Do not use it."
    if bag.status == status.EXPIRED:
        return f"bag {bag.code} has expired. Do not use it."
    if bag.status == status.QUARANTINE:
        return (
            f"bag {bag.code} is in quarantine: it may not be used until the Qualified Person "
            "releases it."
        )
    return batch_problem(bag.batch, on)


EXPIRES_SOON_DAYS = 30


def expires_soon(batch, on_date: datetime.date | None = None) -> bool:
    """Whether `batch` expires within `EXPIRES_SOON_DAYS` days of `on_date` (not past)."""
    on_date = on_date or timezone.localdate()
    if batch.expires_on is None or batch.expires_on < on_date:
        return False
    return (batch.expires_on - on_date).days <= EXPIRES_SOON_DAYS
