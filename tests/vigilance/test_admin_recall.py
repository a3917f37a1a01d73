"""The recall is one more entry of the QP's decision table: the admin action signs it."""

import pytest
from django.urls import reverse

from audit.models import Signature
from audit.signatures import SignatureError
from batches.admin.signing import DECISIONS
from batches.models import Batch
from tests.conftest import totp_code
from vigilance import services
from vigilance.models import Recall

pytestmark = pytest.mark.django_db


def test_recalled_is_a_decision_of_the_table():
    assert DECISIONS[Signature.Meaning.RECALLED].action == "recall_action"


def test_qp_recalls_through_the_admin_action(client, world, qp_user, password):
    client.force_login(qp_user)
    url = reverse("admin:batches_batch_changelist")
    page = client.post(url, {"action": "recall_action", "_selected_action": [world.batch.pk]})
    assert "Recall and sign" in page.content.decode()
    response = client.post(
        url,
        {
            "action": "recall_action",
            "_selected_action": [world.batch.pk],
            "apply": "1",
            "password": password,
            "otp_code": totp_code(qp_user),
            "reason": "endotoxin out of specification",
        },
    )
    assert response.status_code == 302
    world.batch.refresh_from_db()
    assert world.batch.status == Batch.Status.RECALLED
    assert Recall.objects.get(batch=world.batch).reason == "endotoxin out of specification"


def test_wrong_password_in_the_admin_recalls_nothing(client, world, qp_user):
    client.force_login(qp_user)
    client.post(
        reverse("admin:batches_batch_changelist"),
        {
            "action": "recall_action",
            "_selected_action": [world.batch.pk],
            "apply": "1",
            "password": "wrong",
            "reason": "x",
        },
    )
    world.batch.refresh_from_db()
    assert world.batch.status == Batch.Status.RELEASED
    assert not Recall.objects.exists()


def test_only_a_qp_of_the_batchs_facility_recalls_it(
    world, second_facility, make_role_user, password
):
    other_qp = make_role_user("qp2", "qp", second_facility)
    with pytest.raises(SignatureError, match="E0001"):
        services.recall_batch(world.batch, actor=other_qp, password=password, reason="x")
    world.batch.refresh_from_db()
    assert world.batch.status == Batch.Status.RELEASED
    assert not Recall.objects.exists()


def test_the_admin_of_another_facility_does_not_offer_the_batch(
    client, world, second_facility, make_role_user, password
):
    client.force_login(make_role_user("qp2", "qp", second_facility))
    client.post(
        reverse("admin:batches_batch_changelist"),
        {
            "action": "recall_action",
            "_selected_action": [world.batch.pk],
            "apply": "1",
            "password": password,
            "reason": "x",
        },
    )
    world.batch.refresh_from_db()
    assert world.batch.status == Batch.Status.RELEASED
