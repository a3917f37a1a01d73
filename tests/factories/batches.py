"""Factories for production records: a released-ready batch in one call."""

import datetime
from decimal import Decimal

import factory

from batches.models import (
    Bag,
    Batch,
    Donor,
    Procurement,
    ReleaseCheck,
    ReleaseSpecification,
    SerologyResult,
    SpecificationItem,
    StorageLocation,
)
from sites.models import Facility
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
    "ReleaseCheckFactory",
    "REQUIRED_SEROLOGY",
    "add_negative_serology",
    "make_release_ready_batch",
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
    facility = factory.SubFactory(FacilityFactory, fin="E0001")
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
    donor = factory.SubFactory(DonorFactory, facility=factory.SelfAttribute("..facility"))
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

    facility = factory.SubFactory(FacilityFactory, fin="E0001")
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
    location = factory.SubFactory(
        StorageLocationFactory, facility=factory.SelfAttribute("..batch.facility")
    )
    status = Bag.Status.QUARANTINE


class ReleaseCheckFactory(AuditedFactory):
    class Meta:
        model = ReleaseCheck

    batch = factory.SubFactory(BatchFactory)
    item = factory.SubFactory(
        SpecificationItemFactory, specification=factory.SelfAttribute("..batch.specification")
    )
    result_value = Decimal("98")
    tested_on = datetime.date(2026, 3, 28)


REQUIRED_SEROLOGY = [
    SerologyResult.Test.HIV,
    SerologyResult.Test.HBSAG,
    SerologyResult.Test.ANTI_HBC,
    SerologyResult.Test.HCV,
    SerologyResult.Test.SYPHILIS,
]

# A small specification covering each kind of criterion: (category, parameter, kind,
# limit or expected result, unit, passing result).
SMALL_SPEC = [
    ("immunophenotype", "CD73", "min", "95", "%", "98.5"),
    ("immunophenotype", "HLA-DR", "max", "2", "%", "0.4"),
    ("genomic", "CGH array", "expected", "normal", "", "normal"),
    ("sterility", "Sterility", "expected", "negative", "", "negative"),
    ("viability", "Viability", "min", "70", "%", "92.0"),
]


def add_negative_serology(donor, sampled_on=datetime.date(2026, 3, 2)):
    for test in REQUIRED_SEROLOGY:
        SerologyResultFactory(donor=donor, test=test, sampled_on=sampled_on)


def make_release_ready_batch(*, bags=2, **batch_kwargs):
    """A quarantined batch that passes every release rule: eligible donor with serology,
    a specification with one item of each kind, every check passed, bags in quarantine."""
    spec = ReleaseSpecificationFactory()
    checks = []
    for category, parameter, kind, limit, unit, result in SMALL_SPEC:
        item = SpecificationItemFactory(
            specification=spec,
            category=category,
            parameter=parameter,
            kind=kind,
            lower_limit=Decimal(limit) if kind == "min" else None,
            upper_limit=Decimal(limit) if kind == "max" else None,
            expected_result=limit if kind == "expected" else "",
            unit=unit,
        )
        checks.append((item, result))
    batch = BatchFactory(specification=spec, **batch_kwargs)
    add_negative_serology(batch.donor)
    for item, result in checks:
        if item.kind == "expected":
            ReleaseCheckFactory(batch=batch, item=item, result_value=None, result_text=result)
        else:
            ReleaseCheckFactory(batch=batch, item=item, result_value=Decimal(result))
    for _ in range(bags):
        BagFactory(batch=batch)
    return batch
