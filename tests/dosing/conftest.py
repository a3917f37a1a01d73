import pytest

from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags


@pytest.fixture
def protocol(db):
    return ProtocolFactory()


@pytest.fixture
def patient(db):
    """An eligible 78 kg patient."""
    return PatientFactory(weight_kg=78)


@pytest.fixture
def stock(db):
    """A released batch with three bags of 75 ×10⁶ cells and one of 60 ×10⁶."""
    return released_batch_with_bags([75_000_000, 75_000_000, 75_000_000, 60_000_000])
