"""The QP's signed decisions on batches, as one table.

Each entry says what a decision is — its signature's meaning, the form the QP fills in,
the service that signs and applies it, and what the admin says afterwards — and the
admin actions and the signing page are made from the table. A new decision (`recalled`,
a shipment's temperature excursion) is one more entry, not another copy of the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.db import transaction

from audit.models import Signature
from audit.signatures import SignatureError
from batches import services
from batches.admin.base import action_page, report_refusal
from batches.forms import RejectForm, ReleaseForm, SignForm
from batches.rules import release_failures
from batches.shipment_forms import ExcursionDecisionForm
from core.exceptions import DomainError


@dataclass(frozen=True)
class Decision:
    """One signed QP decision on a batch.

    `service(batch, actor=…, **form.cleaned_data)` signs and applies it (every field of
    `form` is a keyword argument of `service`); `success` is formatted with `batch` (the
    code) and `signer` (the printed name). `checks_release_rules`: the signing page
    lists each batch's release failures and offers no signature while any has one.
    """

    meaning: str
    action: str
    description: str
    title: str
    button: str
    verb: str
    form: type[SignForm]
    service: Callable
    success: str
    level: int = messages.INFO
    checks_release_rules: bool = False
    subject: str = "batch"


DECISIONS: dict[str, Decision] = {
    Signature.Meaning.RELEASED: Decision(
        meaning=Signature.Meaning.RELEASED,
        action="release_action",
        description="Release (QP signature)",
        title="Release batches: QP electronic signature",
        button="Release and sign",
        verb="released",
        form=ReleaseForm,
        service=services.release_batch,
        success="Batch {batch} released and signed by {signer}.",
        checks_release_rules=True,
    ),
    Signature.Meaning.REJECTED: Decision(
        meaning=Signature.Meaning.REJECTED,
        action="reject_action",
        description="Reject (QP signature)",
        title="Reject batches: QP electronic signature",
        button="Reject and sign",
        verb="rejected",
        form=RejectForm,
        service=services.reject_batch,
        success="Batch {batch} rejected and signed by {signer}; its bags are discarded.",
        level=messages.WARNING,
    ),
    # The bags a temperature excursion quarantined (a shipment): released or discarded,
    # signed "released" or "rejected" on the shipment (`services.decide_excursion`).
    "excursion": Decision(
        meaning=Signature.Meaning.RELEASED,
        action="decide_excursion_action",
        description="Decide on a temperature excursion (QP signature)",
        title="Bags quarantined by a temperature excursion: QP electronic signature",
        button="Decide and sign",
        verb="decided",
        form=ExcursionDecisionForm,
        service=services.decide_excursion,
        success="Shipment {batch}: the quarantined bags are {outcome}, signed by {signer}.",
        level=messages.WARNING,
        subject="shipment",
    ),
}

# Where a batch that fails the release rules can still go from the signing page.
FALLBACK_DECISION = DECISIONS[Signature.Meaning.REJECTED]


def sign_decision(modeladmin, request, queryset, decision: Decision):
    """The signing page of `decision`, then the decision for each selected batch.

    A batch the service refuses is reported and the others go on; a signature error
    (wrong password, not a QP) stops the run, since it would fail for every batch.
    """
    applying = "apply" in request.POST
    form = decision.form(request.POST if applying else None, user=request.user, request=request)
    if applying and form.is_valid():
        signer = request.user.get_full_name()
        for batch in queryset:
            try:
                with transaction.atomic():
                    decision.service(batch, actor=request.user, **form.cleaned_data)
            except DomainError as error:
                report_refusal(modeladmin, request, batch, error, decision.verb)
                if isinstance(error, SignatureError):
                    break
            else:
                modeladmin.message_user(
                    request,
                    decision.success.format(batch=batch.code, signer=signer),
                    decision.level,
                )
        return None
    fallback = FALLBACK_DECISION
    return action_page(
        modeladmin,
        request,
        queryset,
        form=form,
        action=decision.action,
        title=decision.title,
        button=decision.button,
        template="admin/batches/batch/sign.html",
        failures=release_failures if decision.checks_release_rules else None,
        # A batch failing a release rule cannot be released: the page says so and
        # offers no release button (the service would refuse it anyway), only the
        # fallback decision.
        releasing=decision.checks_release_rules,
        meaning=Signature.Meaning(decision.meaning).label,
        printed_name=request.user.get_full_name(),
        can_reject=decision.checks_release_rules
        and request.user.has_perm("batches.release_batch"),
        reject_action=fallback.action,
        reject_button=f"{fallback.description}…",
    )


def decision_action(decision: Decision):
    """The admin action of one decision (named `decision.action`, QP permission)."""

    def action(modeladmin, request, queryset):
        return sign_decision(modeladmin, request, queryset, decision)

    action.__name__ = action.__qualname__ = decision.action
    return admin.action(description=decision.description, permissions=["release"])(action)


DECISION_ACTIONS = [
    decision_action(decision) for decision in DECISIONS.values() if decision.subject == "batch"
]


def register_decision(decision: Decision) -> None:
    """Add a decision owned by an app above batches (the recall is `vigilance`'s): its
    entry in the table and its admin action on the batch changelist (`BatchAdmin.actions`
    reads `DECISION_ACTIONS` when it is asked). Registering a meaning twice replaces it."""
    DECISIONS[decision.meaning] = decision
    DECISION_ACTIONS[:] = [decision_action(d) for d in DECISIONS.values() if d.subject == "batch"]
