"""Cancelling a dose not yet infused: reserved bags go back, thawed bags are discarded."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audit.context import audit_context
from batches.models import Bag
from batches.services import move_bag
from dosing.exceptions import CancellationError
from dosing.models import Dose
from dosing.services.common import lock_dose, now_or

S = Dose.Status


@transaction.atomic
def cancel_dose(
    dose: Dose, *, actor: AbstractBaseUser, reason: str, at: datetime.datetime | None = None
) -> Dose:
    """Cancel a dose not yet infused, with a written reason.

    Reserved bags go back to `available`; bags already thawed, in refresh or dispensed
    are discarded (a thawed bag is never refrozen). The reservations end (not live).
    """
    at = now_or(at)
    if not reason.strip():
        raise CancellationError("Write why the dose is cancelled.", field="reason")
    dose = lock_dose(dose)
    if dose.status in (S.INFUSED, S.CANCELLED):
        raise CancellationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: it cannot be cancelled."
        )
    reason = reason.strip()
    with audit_context(actor=actor, reason=f"dose {dose.code} cancelled: {reason}"):
        for link in dose.dose_bags.filter(live=True).select_related("bag"):
            if link.bag.status == Bag.Status.RESERVED:
                move_bag(
                    link.bag, Bag.Status.AVAILABLE, actor=actor, note=f"released: {reason}", at=at
                )
            else:
                move_bag(
                    link.bag,
                    Bag.Status.DISCARDED,
                    actor=actor,
                    reason=f"dose {dose.code} cancelled after thaw (never refrozen): {reason}",
                    at=at,
                )
            link.live = False
            link.released_at = at
            link.save(audit_action="release")
        dose.status = S.CANCELLED
        dose.cancelled_at = at
        dose.cancel_reason = reason
        dose.save(audit_action="cancel")
    return dose
