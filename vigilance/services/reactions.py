"""Serious adverse reaction notifications: part A pre-filled from the record and signed,
then part B (confirmation, outcome, corrective measures), signed too."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from audit.models import Signature
from audit.signatures import SignatureError, sign
from dosing.models import AdverseEvent, DoseBag
from sites.scope import site_scope
from vigilance.exceptions import ReportRefused
from vigilance.imputability import imputability_of
from vigilance.models import ReactionReport
from vigilance.rules import part_a_failures, part_b_failures

PERMISSION = "vigilance.report_reaction"

# Part A, in the order of the Directive's form (Annex II) and of the page and the PDF.
PART_A_FIELDS = (
    "establishment",
    "reporting_date",
    "application_date",
    "products",
    "reaction_date",
    "reaction_type",
    "causality",
    "imputability",
)
PART_B_FIELDS = ("confirmed", "clinical_outcome", "corrective_measures")


def _products(event: AdverseEvent) -> list[dict]:
    """Every bag given in the event's dose: its DIN (with check character), product code
    and full bag code."""
    if event.dose_id is None:
        return []
    links = DoseBag.objects.filter(dose_id=event.dose_id).select_related("bag__batch")
    return [
        {
            "din": link.bag.batch.code,
            "product_code": link.bag.product_code,
            "bag": link.bag.code,
        }
        for link in links.order_by("bag__code")
        if link.live
    ]


def part_a_initial(event: AdverseEvent, *, on_date: datetime.date | None = None) -> dict:
    """Part A as the record fills it in: establishment (the patient's hospital), today's
    reporting date, the date of application (the dose's infusion), the products given,
    the date and type of the reaction, the WHO-UMC causality and the Directive's
    imputability level from the published table (`vigilance.imputability`)."""
    infusion = getattr(event.dose, "infusion", None) if event.dose_id else None
    return {
        "establishment": f"{event.patient.hospital.name} ({event.patient.hospital.code})",
        "reporting_date": on_date or timezone.localdate(),
        "application_date": timezone.localdate(infusion.started_at) if infusion else None,
        "products": _products(event),
        "reaction_date": timezone.localdate(event.onset_at),
        "reaction_type": event.description,
        "causality": event.causality,
        "imputability": imputability_of(event.causality),
    }


def part_content(report: ReactionReport, fields) -> dict:
    """What a part's signature is bound to: the report id, the event and its fields."""
    content = {"report": report.code, "adverse_event": report.adverse_event_id}
    content.update({name: getattr(report, name) for name in fields})
    return content


def _require_reporter(actor) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(PERMISSION):
        raise SignatureError("Only a clinician may sign a reaction notification.")


def _require_patients_hospital(actor, patient) -> None:
    """A clinician reports about the patients of their own hospitals only."""
    scope = site_scope(actor)
    if not (scope.network_wide or patient.hospital_id in scope.hospital_ids):
        raise SignatureError(
            f"Patient {patient.code} is treated at another hospital: its clinicians report."
        )


def _sign_part(report, fields, part: str, actor, password, otp_code, session):
    """The reporter's electronic signature of one part (its fields as submitted)."""
    return sign(
        signer=actor,
        password=password,
        meaning=Signature.Meaning.SUBMITTED,
        object_type=report._meta.label_lower,
        object_id=report.pk,
        object_repr=report.code,
        content=part_content(report, fields),
        comment=part,
        otp_code=otp_code,
        session=session,
    )


@transaction.atomic
def submit_part_a(
    event: AdverseEvent,
    *,
    actor: AbstractBaseUser,
    password: str,
    reaction_type: str = "",
    otp_code: str = "",
    session=None,
    at: datetime.datetime | None = None,
) -> ReactionReport:
    """Submit part A about a serious adverse event, signed (meaning `submitted`).

    Its values come from the record (`part_a_initial`); only the type of reaction may be
    worded by the clinician (it defaults to the event's description). Refused, with
    nothing written: no signature or a wrong one (SignatureError), an actor who may not
    report, part A already submitted, an event that is not serious.
    """
    _require_reporter(actor)
    at = at or timezone.now()
    event = (
        AdverseEvent.objects.select_for_update(of=("self",))
        .select_related("patient__hospital", "dose")
        .get(pk=event.pk)
    )
    _require_patients_hospital(actor, event.patient)
    existing = ReactionReport.objects.filter(adverse_event=event).first()
    values = part_a_initial(event, on_date=timezone.localdate(at))
    reaction_type = reaction_type.strip() or values["reaction_type"]
    failures = part_a_failures(event, reaction_type=reaction_type, already=existing is not None)
    if failures:
        raise ReportRefused([f.message for f in failures], fields=[f.field for f in failures])
    values["reaction_type"] = reaction_type
    report = ReactionReport(adverse_event=event, part_a_by=actor, part_a_submitted_at=at, **values)
    with audit_context(actor=actor, reason=f"reaction notification part A about AE {event.pk}"):
        report.full_clean(exclude=["part_a_signature", "part_b_signature"])
        report.save(audit_action="submit_part_a")
        report.part_a_signature = _sign_part(
            report, PART_A_FIELDS, "part A", actor, password, otp_code, session
        )
        report.save(audit_action="sign_part_a")
    return report


@transaction.atomic
def submit_part_b(
    report: ReactionReport,
    *,
    actor: AbstractBaseUser,
    password: str,
    confirmed: bool | None,
    clinical_outcome: str,
    corrective_measures: str,
    otp_code: str = "",
    session=None,
    at: datetime.datetime | None = None,
) -> ReactionReport:
    """Submit part B of a notification whose part A was submitted, signed too."""
    _require_reporter(actor)
    at = at or timezone.now()
    report = ReactionReport.objects.select_for_update().get(pk=report.pk)
    _require_patients_hospital(actor, report.adverse_event.patient)
    failures = part_b_failures(
        report,
        confirmed=confirmed,
        clinical_outcome=clinical_outcome,
        corrective_measures=corrective_measures,
    )
    if failures:
        raise ReportRefused([f.message for f in failures], fields=[f.field for f in failures])
    with audit_context(actor=actor, reason=f"reaction notification {report.code} part B"):
        report.confirmed = confirmed
        report.clinical_outcome = clinical_outcome
        report.corrective_measures = corrective_measures.strip()
        report.part_b_by = actor
        report.part_b_submitted_at = at
        report.part_b_signature = _sign_part(
            report, PART_B_FIELDS, "part B", actor, password, otp_code, session
        )
        report.save(audit_action="submit_part_b")
    return report
