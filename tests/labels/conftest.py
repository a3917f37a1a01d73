import datetime

import pytest

from batches.isbt import iso7064_mod37_2
from tests.factories import (
    BagFactory,
    BatchFactory,
    PatientFactory,
    ProtocolFactory,
    released_batch_with_bags,
)


def din_with_check(check: str, *, fin: str = "E0001", year: str = "26", start: int = 900_000):
    """The first DIN from sequence `start` on whose ISO 7064 mod 37-2 check is `check`."""
    for sequence in range(start, 1_000_000):
        din = f"{fin}{year}{sequence:06d}"
        if iso7064_mod37_2(din) == check:
            return din
    raise AssertionError(f"no DIN with check character {check!r}")


@pytest.fixture
def star_din():
    din = din_with_check("*")
    assert iso7064_mod37_2(din) == "*"
    return din


@pytest.fixture
def star_batch(db, star_din):
    """A batch whose DIN's check character is `*`, expiring 2028-04-01 (day 092)."""
    return BatchFactory(din=star_din, expires_on=datetime.date(2028, 4, 1))


@pytest.fixture
def star_bag(star_batch):
    return BagFactory(batch=star_batch, division="A0", nominal_cells=62_500_000)


@pytest.fixture
def protocol(db):
    return ProtocolFactory()


@pytest.fixture
def patient(db):
    return PatientFactory(code="SAL-P07", weight_kg=78)


@pytest.fixture
def stock(db):
    """A released batch with three bags of 75 ×10⁶ cells and one of 60 ×10⁶."""
    return released_batch_with_bags([75_000_000, 75_000_000, 75_000_000, 60_000_000])
