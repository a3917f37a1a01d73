"""One bag-usability rule (`batches.rules.bag_unusable_reason`): a bag discarded, expired
or in quarantine, or of a batch not released / expired / unsigned, is refused with why."""

import datetime

import pytest

from batches.models import Bag, Batch
from batches.rules import bag_unusable_reason
from tests.factories import released_batch_with_bags

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 2)


def test_an_available_bag_of_a_released_signed_batch_is_usable():
    _, (bag,) = released_batch_with_bags()
    assert bag_unusable_reason(bag, on=TODAY) is None


@pytest.mark.parametrize(
    ("status", "reason", "words"),
    [
        (Bag.Status.DISCARDED, "dropped", "was discarded: dropped"),
        (Bag.Status.EXPIRED, "", "has expired"),
        (Bag.Status.QUARANTINE, "", "is in quarantine"),
    ],
)
def test_a_bag_discarded_expired_or_in_quarantine_is_refused(status, reason, words):
    _, (bag,) = released_batch_with_bags()
    bag.status, bag.discard_reason = status, reason  # in memory: the rule is pure
    assert words in bag_unusable_reason(bag, on=TODAY)


def test_a_bag_of_a_recalled_batch_is_refused():
    batch, (bag,) = released_batch_with_bags()
    batch.status = Batch.Status.RECALLED
    refusal = bag_unusable_reason(bag, on=TODAY)
    assert "is recalled" in refusal and f"recall RC-{batch.code}" in refusal


def test_a_bag_of_an_expired_batch_is_refused():
    _, (bag,) = released_batch_with_bags(expires_on=TODAY - datetime.timedelta(days=1))
    assert "expired" in bag_unusable_reason(bag, on=TODAY)
