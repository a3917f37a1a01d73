"""Bags past their expiry: marked `expired`, each with its custody event."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from batches.models import Bag
from batches.services import move_bag

# Bags that may still be in the tank, unused: what expiry takes.
EXPIRABLE = (Bag.Status.AVAILABLE,)


def expire_bags(*, actor=None, on_date: datetime.date | None = None) -> list[Bag]:
    """Mark every available bag whose batch expired before `on_date` (today) as
    `expired`, one custody event per bag (`batches.services.move_bag`).

    Idempotent: a second run finds nothing left to expire. Bags reserved or further on
    are the pharmacy's (their steps refuse an expired batch); bags in quarantine wait for
    the QP. Each bag is its own transaction, so one refusal never blocks the rest."""
    on_date = on_date or timezone.localdate()
    bags = Bag.objects.filter(status__in=EXPIRABLE, batch__expires_on__lt=on_date).select_related(
        "batch"
    )
    expired = []
    for bag in bags.order_by("batch__expires_on", "code"):
        with transaction.atomic():
            expired.append(
                move_bag(
                    bag,
                    Bag.Status.EXPIRED,
                    actor=actor,
                    note=f"batch {bag.batch.code} expired on {bag.batch.expires_on}",
                )
            )
    return expired
