"""Warnings where they help: a failing batch's submission shows its failures and waits
for a confirmation; the batch list says which batches are ready, fail (why), expire soon."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from batches.models import Batch
from tests.factories import BatchFactory, ReleaseCheckFactory, make_release_ready_batch

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:batches_batch_changelist")


def submit(client, batch, **extra):
    return client.post(
        CHANGELIST,
        {"action": "submit_for_release_action", "_selected_action": [batch.pk], **extra},
    )


def failing_batch():
    """In production, CD73 at 90 % (limit ≥ 95 %) and the donor 55 at donation."""
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    check = batch.checks.get(item__parameter="CD73")
    check.result_value = Decimal("90")
    check.save()
    batch.donor.age_at_donation = 55
    batch.donor.save()
    return batch


def test_failing_batch_shows_its_failures_and_is_not_submitted(
    client, production_user, system_context
):
    batch = failing_batch()
    client.force_login(production_user)
    response = submit(client, batch)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="submit-warning"' in content
    assert "CD73 (≥ 95 %): result 90 failed." in content
    assert "Age under 50 not met" in content
    assert "only a batch in quarantine" not in content  # not a failure before submitting
    assert 'name="confirm"' in content and "Submit anyway" in content
    batch.refresh_from_db()
    assert batch.status == Batch.Status.IN_PRODUCTION


def test_confirmed_submission_goes_on_with_a_warning(client, production_user, system_context):
    batch = failing_batch()
    client.force_login(production_user)
    response = submit(client, batch, confirm="1")
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "warning"
    assert "fails 2 release rule(s)" in str(message)


def test_ready_batch_is_submitted_without_a_question(client, production_user):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    client.force_login(production_user)
    response = submit(client, batch)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "success" or message.level_tag == "info"


def test_changelist_says_ready_fails_why_and_expires_soon(client, production_user, system_context):
    ready = make_release_ready_batch()
    failing = failing_batch()
    soon = make_release_ready_batch(expires_on=timezone.localdate() + datetime.timedelta(days=10))
    client.force_login(production_user)
    content = client.get(CHANGELIST).content.decode()
    assert content.count("Ready for QP") == 2  # `ready` and `soon`
    assert "Fails: CD73 (≥ 95 %): result 90 failed." in content
    assert f"Expires soon ({soon.expires_on})" in content
    assert ready.code in content and failing.code in content


def test_changelist_queries_do_not_grow_with_batches(
    client, production_user, django_assert_max_num_queries
):
    make_release_ready_batch()
    client.force_login(production_user)
    with django_assert_max_num_queries(30) as small:
        client.get(CHANGELIST)
    for _ in range(5):
        batch = make_release_ready_batch()
        ReleaseCheckFactory(batch=batch)
    BatchFactory(status=Batch.Status.IN_PRODUCTION)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(CHANGELIST)
    assert response.status_code == 200
