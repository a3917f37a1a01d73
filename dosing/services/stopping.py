"""Stopping the doses of a recalled batch: every dose holding its bags, not yet infused."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audit.context import audit_context
from batches.models import Batch
from dosing.models import Dose
from dosing.services.common import now_or

S = Dose.Status


@transaction.atomic
def stop_doses_of_batch(
    batch: Batch, *, actor: AbstractBaseUser, reason: str, at: datetime.datetime | None = None
) -> list[Dose]:
    """Stop every dose of `batch` that is allocated, prepared or dispensed (not infused).

    Each becomes `stopped` with the time and `reason` (audit action `stop`). Its bags
    stay linked to it where they are — the recalled batch's status blocks them at every
    step, and the lookback shows where each one is. A stopped dose no longer counts
    towards the course: the patient's next dose may be ordered under the same number,
    from another batch with a physician's override (`allocate_dose`). Returns the doses
    stopped, in code order.
    """
    at = now_or(at)
    if not reason.strip():
        raise ValueError("A dose is stopped with a written reason.")
    doses = list(
        Dose.objects.select_for_update(of=("self",))
        .select_related("patient")
        .filter(batch=batch, status__in=Dose.STOPPABLE_STATUSES)
        .order_by("patient__code", "number")
    )
    for dose in doses:
        with audit_context(actor=actor, reason=f"dose {dose.code} stopped: {reason.strip()}"):
            dose.status = S.STOPPED
            dose.stopped_at = at
            dose.stop_reason = reason.strip()
            dose.save(audit_action="stop")
    return doses
