"""Read paths over production records (no writes here)."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from batches.models import Bag, Batch


def released_batches(*, on_date: datetime.date | None = None) -> QuerySet[Batch]:
    """Batches released by a QP whose expiry date is known and not yet past on `on_date`."""
    on_date = on_date or timezone.localdate()
    return Batch.objects.filter(
        status=Batch.Status.RELEASED,
        expires_on__isnull=False,
        expires_on__gte=on_date,
    )


def bags_available_for_allocation(*, on_date: datetime.date | None = None) -> QuerySet[Bag]:
    """Bags a pharmacy may allocate: status `available`, of a released, unexpired batch.

    A batch without an expiry date is not treated as unexpired: release requires one, so
    such a bag can only come from data entered around the service, and is left out.
    Ordered first-expiry-first-out, then by code.
    """
    on_date = on_date or timezone.localdate()
    return (
        Bag.objects.filter(
            status=Bag.Status.AVAILABLE,
            batch__status=Batch.Status.RELEASED,
            batch__expires_on__isnull=False,
            batch__expires_on__gte=on_date,
        )
        .select_related("batch", "location")
        .order_by("batch__expires_on", "batch_id", "code")
    )
