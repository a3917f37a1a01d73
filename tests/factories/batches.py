"""Factories for production records: a released-ready batch in one call."""

import datetime
from decimal import Decimal

import factory

from batches.models import (
    Bag,
    Batch,
    Donor,
    Facility,
    Procurement,
    ReleaseSpecification,
    SerologyResult,
    SpecificationItem,
    StorageLocation,
)
from tests.factories.base import AuditedFactory

__all__ = [
    "FacilityFactory",
    "DonorFactory",
    "SerologyResultFactory",
    "ProcurementFactory",
    "ReleaseSpecificationFactory",
    "SpecificationItemFactory",
    "BatchFactory",
    "StorageLocationFactory",
    "BagFactory",
]


class FacilityFactory(AuditedFactory):
    class Meta:
        model = Facility
        django_get_or_create = ("fin",)

    fin = factory.Sequence(lambda n: f"E{n:04d}")
    name = factory.Sequence(lambda n: f"GMP facility {n}")


class DonorFactory(AuditedFactory):
    class Meta:
        model = Donor

    code = factory.Sequence(lambda n: f"DON-{n:04d}")
    age_at_donation = 34
    sex = Donor.Sex.FEMALE
    consent_for_clinical_use = True
    consent_signed_on = datetime.date(2026, 3, 1)


class SerologyResultFactory(AuditedFactory):
    class Meta:
        model = SerologyResult

    donor = factory.SubFactory(DonorFactory)
    test = SerologyResult.Test.HIV
    result = SerologyResult.Result.NEGATIVE
    sampled_on = datetime.date(2026, 3, 2)


class ProcurementFactory(AuditedFactory):
    class Meta:
        model = Procurement

    donor = factory.SubFactory(DonorFactory)
    procured_on = datetime.date(2026, 3, 2)
    site = "Hospital Universitario de Salamanca, Plastic Surgery"
    lipoaspirate_volume_ml = Decimal("100.0")
    fat_weight_g = Decimal("50.0")
    performed_by = "Surgeon S-01"


class ReleaseSpecificationFactory(AuditedFactory):
    class Meta:
        model = ReleaseSpecification

    code = "AT-MSC-REL"
    version = factory.Sequence(lambda n: n + 1)
    effective_from = datetime.date(2026, 1, 1)


class SpecificationItemFactory(AuditedFactory):
    class Meta:
        model = SpecificationItem

    specification = factory.SubFactory(ReleaseSpecificationFactory)
    category = SpecificationItem.Category.IMMUNOPHENOTYPE
    parameter = factory.Sequence(lambda n: f"CD{n}")
    kind = SpecificationItem.Kind.MINIMUM
    lower_limit = Decimal("95")
    unit = "%"


class BatchFactory(AuditedFactory):
    class Meta:
        model = Batch

    din = factory.Sequence(lambda n: f"E000126{n:06d}")
    donor = factory.SubFactory(DonorFactory)
    procurement = factory.SubFactory(ProcurementFactory, donor=factory.SelfAttribute("..donor"))
    facility = factory.SubFactory(FacilityFactory, fin="E0001")
    impd_reference = "PEI-15-103"
    specification = factory.SubFactory(ReleaseSpecificationFactory)
    population_doublings = Decimal("12.5")
    passages = 1
    cryopreserved_on = datetime.date(2026, 4, 1)
    expires_on = datetime.date(2028, 4, 1)
    viability_pct = Decimal("92.0")
    status = Batch.Status.QUARANTINE


class StorageLocationFactory(AuditedFactory):
    class Meta:
        model = StorageLocation

    tank = "T1"
    rack = "R1"
    box = factory.Sequence(lambda n: f"B{n // 25 + 1}")
    position = factory.Sequence(lambda n: str(n % 25 + 1))


class BagFactory(AuditedFactory):
    class Meta:
        model = Bag

    batch = factory.SubFactory(BatchFactory)
    product_code = "S1234V00"
    division = factory.Sequence(lambda n: f"{chr(65 + (n // 10) % 26)}{n % 10}")
    nominal_cells = 60_000_000
    volume_ml = Decimal("20.0")
    location = factory.SubFactory(StorageLocationFactory)
    status = Bag.Status.QUARANTINE
