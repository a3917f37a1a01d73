"""Factories for dosing: the paper's protocol, and a released batch with available bags.

Doses are made through `dosing.services` in tests (order → allocate → ...), so that each
test exercises the same path as the pages; `ProtocolFactory` is the only model factory.
"""

import datetime
from decimal import Decimal

from batches.models import Bag, Batch
from dosing.models import Protocol
from tests.factories.base import AuditedFactory
from tests.factories.batches import BagFactory, BatchFactory

__all__ = ["ProtocolFactory", "released_batch_with_bags"]


class ProtocolFactory(AuditedFactory):
    """The paper's protocol: 1×10⁶/kg (0.7–1.3), 3 doses 48–96 h apart, 72 h / 24 h."""

    class Meta:
        model = Protocol
        django_get_or_create = ("code", "version")

    code = "AT-MSC-COVID"
    version = 1
    active = True
    effective_from = datetime.date(2020, 3, 1)


def released_batch_with_bags(
    cells=(75_000_000,),
    *,
    volume_ml=Decimal("20.0"),
    expires_on=datetime.date(2099, 1, 1),
    status=Batch.Status.RELEASED,
    bag_status=Bag.Status.AVAILABLE,
    **batch_kwargs,
):
    """A batch (released by default) and one bag per entry of `cells`, available."""
    batch = BatchFactory(status=status, expires_on=expires_on, **batch_kwargs)
    bags = [
        BagFactory(batch=batch, nominal_cells=n, volume_ml=volume_ml, status=bag_status)
        for n in cells
    ]
    return batch, bags
