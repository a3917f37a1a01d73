"""Rule: a new specification item goes only into a version no QP decision was made
against. The service refuses a used version (as the model refuses changing, moving or
deleting its items); the admin only offers unused versions."""

import datetime
from decimal import Decimal

import pytest

from batches import services
from batches.exceptions import SpecificationInUseError
from batches.models import ReleaseSpecification, SpecificationItem
from tests.factories import ReleaseSpecificationFactory, make_release_ready_batch

pytestmark = pytest.mark.django_db

ITEM = {"category": "immunophenotype", "parameter": "CD105", "kind": "min", "unit": "%"}


@pytest.fixture
def used_spec(qp_user, password):
    batch = make_release_ready_batch(expires_on=datetime.date(2099, 1, 1))
    services.release_batch(batch, actor=qp_user, password=password)
    return batch.specification


def test_no_item_is_added_to_a_version_in_use(production_user, used_spec):
    with pytest.raises(SpecificationInUseError, match="no item can be added to it"):
        services.add_specification_item(
            used_spec, actor=production_user, lower_limit=Decimal("95"), **ITEM
        )
    assert not SpecificationItem.objects.filter(parameter="CD105").exists()


def test_an_item_is_added_to_an_unused_version(production_user, used_spec):
    spec = ReleaseSpecificationFactory()
    item = services.add_specification_item(
        spec, actor=production_user, lower_limit=Decimal("95"), **ITEM
    )
    assert item.specification == spec


def test_the_unused_versions_are_the_ones_offered(used_spec):
    free = ReleaseSpecificationFactory()
    assert list(ReleaseSpecification.objects.unused()) == [free]


def test_an_item_is_not_moved_into_a_version_in_use(production_user, used_spec):
    item = services.add_specification_item(
        ReleaseSpecificationFactory(), actor=production_user, lower_limit=Decimal("95"), **ITEM
    )
    with pytest.raises(SpecificationInUseError, match="its items cannot be moved into it"):
        services.correct_specification_item(
            item, actor=production_user, reason="wrong version", specification=used_spec
        )
