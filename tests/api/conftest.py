"""Fixtures for the auditor API: token clients per role and a small traceable chain."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from audit.context import Origin, audit_context
from audit.models import Signature
from batches.models import BagEvent, Batch, ReleaseCheck
from tests.factories import (
    BagFactory,
    BatchFactory,
    DonorFactory,
    SpecificationItemFactory,
)


def token_client(user) -> APIClient:
    """A client sending a fresh knox token for `user` (anonymous when user is None)."""
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def auditor_client(auditor):
    return token_client(auditor)


def make_batch(*, bags=2, checks=2, status=Batch.Status.RELEASED, donor=None, signer=None):
    """A batch with `checks` release checks (the first failing when checks > 1), `bags`
    bags, each with a custody event, and, when `signer` is given, a release signature."""
    donor = donor or DonorFactory()
    batch = BatchFactory(donor=donor, status=status)
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        for index in range(checks):
            item = SpecificationItemFactory(specification=batch.specification)
            value = Decimal("90") if index == 0 and checks > 1 else Decimal("98")
            ReleaseCheck.objects.create(
                batch=batch,
                item=item,
                result_value=value,
                tested_on=datetime.date(2026, 4, 2),
                passed=value >= item.lower_limit,
            )
    made = BagFactory.create_batch(bags, batch=batch)
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        for bag in made:
            BagEvent.objects.create(
                bag=bag,
                from_status="",
                to_status=bag.status,
                occurred_at=timezone.now(),
                actor=signer,
                location=str(bag.location),
                note="labelled",
            )
    if signer is not None:
        Signature.objects.create(
            signer=signer,
            printed_name=signer.get_full_name(),
            signed_at=timezone.now(),
            meaning=Signature.Meaning.RELEASED,
            object_type="batches.batch",
            object_id=str(batch.pk),
            content_hash="a" * 64,
        )
    return batch


def make_dose(patient, batch, *, number=1, actor, bags=None, adverse_event=True):
    """An infused dose for `patient` from `batch` (its bags, a thaw record, the infusion
    and, by default, an adverse event), written directly as test set-up."""
    from dosing.models import AdverseEvent, Dose, DoseBag, Infusion, Preparation, Protocol

    bags = list(batch.bags.all()) if bags is None else bags
    now = timezone.now()
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        protocol, _ = Protocol.objects.get_or_create(code="TERCEL", version=1)
        cells = sum(bag.nominal_cells for bag in bags)
        dose = Dose.objects.create(
            patient=patient,
            protocol=protocol,
            number=number,
            batch=batch,
            status=Dose.Status.INFUSED,
            planned_for=now,
            weight_kg=Decimal("78.0"),
            weight_measured_on=timezone.localdate(),
            required_cells=78_000_000,
            planned_cells=cells,
            delivered_cells=cells,
            ordered_by=actor,
            ordered_at=now,
        )
        for bag in bags:
            DoseBag.objects.create(
                dose=dose, bag=bag, cells=bag.nominal_cells, volume_ml=bag.volume_ml,
                reserved_at=now,
            )  # fmt: skip
        Preparation.objects.create(
            dose=dose, method="thawed", thawed_at=now, medium="AB serum + 10 % DMSO",
            prepared_by=actor, recorded_at=now,
        )  # fmt: skip
        Infusion.objects.create(
            dose=dose, started_at=now, ended_at=now, filter_200um_confirmed=True,
            infused_by=actor, heart_rate_before=80, systolic_bp_before=120,
            diastolic_bp_before=70, spo2_pct_before=93, temperature_c_before=Decimal("36.8"),
            heart_rate_after=82, systolic_bp_after=118, diastolic_bp_after=72,
            spo2_pct_after=94, temperature_c_after=Decimal("36.9"), recorded_at=now,
        )  # fmt: skip
        if adverse_event:
            AdverseEvent.objects.create(
                patient=patient, dose=dose, onset_at=now, description="GI bleed",
                ctcae_grade=5, serious=True, outcome="fatal", causality="unlikely",
                reported_by=actor, reported_at=now,
            )  # fmt: skip
    return dose
