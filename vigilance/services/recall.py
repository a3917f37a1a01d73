"""A batch's recall: the QP's signature, the recall record, the stopped doses, the
notices (a worklist entry and an email per concerned site)."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from audit.models import Signature
from batches import services as batch_services
from batches.models import Batch
from core.formatting import fmt_time
from dosing import services as dosing_services
from sites.scope import site_scope
from vigilance.exceptions import VigilanceError
from vigilance.models import Recall, RecallNotice
from vigilance.services.sites import concerned_sites

log = logging.getLogger(__name__)


@transaction.atomic
def recall_batch(
    batch: Batch,
    *,
    actor: AbstractBaseUser,
    password: str,
    reason: str,
    at: datetime.datetime | None = None,
) -> Recall:
    """The QP recalls a released batch, with a signature (meaning `recalled`) and a reason.

    At once, in one transaction: the batch becomes `recalled` (`batches.services.
    recall_batch`: every bag of it is then refused at every step by the one usability
    rule, naming the recall); every dose of it not yet infused is stopped
    (`dosing.services.stop_doses_of_batch`); the recall is recorded; each hospital that
    gave or holds its bags gets a notice (`concerned_sites`), mailed to its
    `notification_email` once the transaction commits. Only a QP of the batch's facility
    may recall it. A wrong password, a missing reason or a batch never released refuses
    it and nothing changes.
    """
    at = at or timezone.now()
    reason = reason.strip()
    batch = batch_services.recall_batch(batch, actor=actor, password=password, reason=reason)
    signature = (
        Signature.objects.filter(
            object_type=batch._meta.label_lower,
            object_id=str(batch.pk),
            meaning=Signature.Meaning.RECALLED,
        )
        .order_by("pk")
        .last()
    )
    recall = Recall(
        batch=batch,
        reason=reason,
        recalled_by=actor,
        recalled_at=signature.signed_at,
        signature=signature,
    )
    stopped = dosing_services.stop_doses_of_batch(
        batch, actor=actor, reason=f"batch {batch.code} recalled ({recall.code}): {reason}", at=at
    )
    recall.stopped_doses = len(stopped)
    with audit_context(actor=actor, reason=f"recalled: {reason}"):
        recall.full_clean()
        recall.save(audit_action="recall")
        for site in concerned_sites(batch):
            RecallNotice(
                recall=recall,
                hospital=site.hospital,
                address=site.address,
                held_bags=site.held_bags,
                exposed_patients=site.exposed_patients,
            ).save(audit_action="notice")
    transaction.on_commit(lambda: send_recall_notices(recall.pk, actor=actor))
    return recall


def notice_text(notice: RecallNotice) -> tuple[str, str]:
    """(subject, body) of the mail of one notice: codes only, never a name."""
    recall = notice.recall
    subject = f"CellTrack recall {recall.code}: batch {recall.batch.code}"
    body = "\n".join(
        [
            f"Batch {recall.batch.code} was recalled by {recall.signature.printed_name} "
            f"(Qualified Person) on {fmt_time(recall.recalled_at)}.",
            f"Reason: {recall.reason}",
            "",
            f"{notice.hospital.name} ({notice.hospital.code}): {notice.held_bags} bag(s) of "
            f"the batch not infused, {notice.exposed_patients} patient(s) infused from it.",
            "No bag of this batch may be allocated, thawed, refreshed, dispensed or infused;",
            "its doses not yet infused are stopped. Return the bags to the pharmacy and read",
            f"the lookback in CellTrack (recall {recall.code}).",
        ]
    )
    return subject, body


def send_recall_notices(recall_id: int, *, actor=None) -> int:
    """Mail each notice of the recall not sent yet to its hospital's notification
    address, and mark it sent; returns how many went. A hospital without an address, or
    a failure to send, leaves the notice unsent (the worklist still shows it; a failure
    is logged) and never undoes the recall."""
    sent = 0
    notices = (
        RecallNotice.objects.select_related("recall__batch", "recall__signature", "hospital")
        .filter(recall_id=recall_id, sent_at__isnull=True)
        .exclude(address="")
    )
    for notice in notices:
        subject, body = notice_text(notice)
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [notice.address])
        except OSError:
            log.exception("recall notice %s to %s not sent", notice, notice.address)
            continue
        with audit_context(actor=actor, reason=f"recall notice mailed to {notice.address}"):
            notice.sent_at = timezone.now()
            notice.save(audit_action="notice_sent")
        sent += 1
    return sent


@transaction.atomic
def acknowledge_notice(notice: RecallNotice, *, actor: AbstractBaseUser) -> RecallNotice:
    """The hospital's pharmacy has read the notice: it leaves its worklist (only a member
    of that hospital acknowledges it)."""
    notice = RecallNotice.objects.select_for_update().get(pk=notice.pk)
    scope = site_scope(actor)
    if not (scope.network_wide or notice.hospital_id in scope.hospital_ids):
        raise VigilanceError(f"Notice {notice} is for the pharmacy of {notice.hospital.code}.")
    if notice.acknowledged_at is not None:
        raise VigilanceError(
            f"Notice {notice} was acknowledged on {fmt_time(notice.acknowledged_at)}."
        )
    with audit_context(actor=actor, reason=f"recall notice {notice} acknowledged"):
        notice.acknowledged_at = timezone.now()
        notice.acknowledged_by = actor
        notice.save(audit_action="acknowledge")
    return notice
