"""Factories for dosing: the paper's protocol, and a released batch with available bags.

Doses are made through `dosing.services` in tests (order → allocate → ...), so that each
test exercises the same path as the pages; `ProtocolFactory` is the only model factory.
"""

import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.utils import timezone

from audit.models import Signature
from audit.signatures import content_hash
from batches.models import Bag, Batch
from batches.services.signed_record import keep_record_hash
from dosing.models import Protocol
from tests.factories.base import AuditedFactory
from tests.factories.batches import BagFactory, BatchFactory
from tests.factories.shipments import receive_at
from tests.factories.sites import HospitalFactory

# `released_batch_with_bags(hospital=…)` left out: received at the default hospital.
RECEIVED_AT_DEFAULT = object()

__all__ = ["ProtocolFactory", "released_batch_with_bags", "sign_release"]


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
    signed=True,
    hospital=RECEIVED_AT_DEFAULT,
    **batch_kwargs,
):
    """A batch (released by default) and one bag per entry of `cells`, available.

    A released batch gets a QP release signature matching its record (`signed=False`
    leaves it out), as allocation and preparation check it. Available bags are received
    in range at `hospital` (`HospitalFactory()`, HUS, by default; the patients'
    default) through `receive_at`, since only received bags are allocated; `hospital=None`
    leaves them in the facility's store."""
    batch = BatchFactory(status=status, expires_on=expires_on, **batch_kwargs)
    bags = [
        BagFactory(batch=batch, nominal_cells=n, volume_ml=volume_ml, status=bag_status)
        for n in cells
    ]
    if status == Batch.Status.RELEASED and signed:
        sign_release(batch)
    if hospital is RECEIVED_AT_DEFAULT:
        hospital = HospitalFactory()
    if hospital is not None and bags and bag_status == Bag.Status.AVAILABLE:
        receive_at(bags, hospital)
    return batch, bags


def sign_release(batch):
    """A QP release signature bound to the batch record as it is now (test set-up: the
    real one goes through `batches.services.release_batch` with the QP's password)."""
    signer, _ = User.objects.get_or_create(
        username="qp-factory", defaults={"first_name": "Quinn", "last_name": "Factory"}
    )
    signature = Signature.objects.create(
        signer=signer,
        printed_name=signer.get_full_name(),
        signed_at=timezone.now(),
        meaning=Signature.Meaning.RELEASED,
        object_type=batch._meta.label_lower,
        object_id=str(batch.pk),
        content_hash=content_hash(batch.signature_content()),
    )
    # As `release_batch` does: from the decision on, the batch keeps its record's hash.
    keep_record_hash(batch, actor=signer, reason="test set-up: QP release signature")
    return signature
