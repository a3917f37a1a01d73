"""Release specifications: decisions use the current limit; a used version is frozen."""

import datetime
from decimal import Decimal

import pytest
from django.db import models
from django.urls import reverse

from audit.context import audit_context
from audit.models import AuditEvent
from batches.exceptions import ReleaseError, SpecificationInUseError
from batches.models import ReleaseCheck, SpecificationItem
from batches.rules import release_failures
from batches.services import correct_specification_item, release_batch
from core.exceptions import DomainError
from tests.factories import (
    ReleaseSpecificationFactory,
    SpecificationItemFactory,
    make_release_ready_batch,
)

pytestmark = pytest.mark.django_db


def _cd73(batch):
    return SpecificationItem.objects.get(specification=batch.specification, parameter="CD73")


# M1: a pass/fail never goes stale ------------------------------------------------------


def test_release_refused_when_a_limit_is_tightened_after_the_result_was_recorded(
    qp_user, password, production_user
):
    batch = make_release_ready_batch()
    cd73 = _cd73(batch)  # the check recorded 98.5 against ≥ 95
    with audit_context(actor=production_user, reason="limit tightened"):
        cd73.lower_limit = Decimal("99")
        cd73.save()
    with pytest.raises(ReleaseError) as error:
        release_batch(batch, actor=qp_user, password=password)
    assert "CD73 (≥ 99 %): result 98.5 failed." in error.value.messages


def test_correcting_a_limit_recomputes_the_stored_pass_fail_of_existing_results_on_the_trail(
    production_user,
):
    batch = make_release_ready_batch()
    cd73 = _cd73(batch)
    check = ReleaseCheck.objects.get(batch=batch, item=cd73)
    assert check.passed is True
    correct_specification_item(
        cd73, actor=production_user, reason="limit tightened", lower_limit=Decimal("99")
    )
    check.refresh_from_db()
    assert check.passed is False
    event = AuditEvent.objects.filter(
        object_type="batches.releasecheck", object_id=str(check.pk), action="recompute"
    ).get()
    assert event.changes["passed"] == [True, False]
    assert event.actor == production_user
    assert "CD73" in event.reason and "≥ 99 %" in event.reason


def test_release_failures_judge_the_result_against_the_current_limit_not_the_stored_flag(
    production_user,
):
    batch = make_release_ready_batch()
    cd73 = _cd73(batch)
    with audit_context(actor=production_user, reason="limit tightened"):
        cd73.lower_limit = Decimal("99")
        cd73.save()
    # A stale stored flag (a row written around the model, or before this rule existed).
    models.QuerySet.update(ReleaseCheck.objects.filter(batch=batch, item=cd73), passed=True)
    batch.refresh_from_db()
    assert "CD73 (≥ 99 %): result 98.5 failed." in release_failures(batch)


# M2: a specification version used for a decision is frozen ---------------------------


@pytest.fixture
def used_item(qp_user, password):
    batch = make_release_ready_batch(expires_on=datetime.date(2099, 1, 1))
    release_batch(batch, actor=qp_user, password=password)
    return _cd73(batch)


def test_item_of_a_version_used_for_a_release_cannot_be_edited_in_the_item_admin(
    client, production_user, password, used_item
):
    assert client.login(username=production_user.username, password=password)
    url = reverse("admin:batches_specificationitem_change", args=[used_item.pk])
    page = client.get(url)
    assert 'name="_save"' not in page.content.decode()
    assert "create a new version" in page.content.decode()
    response = client.post(
        url,
        {
            "specification": used_item.specification_id,
            "category": used_item.category,
            "parameter": "CD73",
            "kind": "min",
            "lower_limit": "50",
            "upper_limit": "",
            "expected_result": "",
            "unit": "%",
            "required": "on",
            "change_reason": "typo",
        },
    )
    assert response.status_code == 403
    used_item.refresh_from_db()
    assert used_item.lower_limit == Decimal("95")
    delete = reverse("admin:batches_specificationitem_delete", args=[used_item.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert SpecificationItem.objects.filter(pk=used_item.pk).exists()


def test_saving_an_item_of_a_used_version_is_refused_by_the_model(production_user, used_item):
    used_item.lower_limit = Decimal("50")
    with (
        audit_context(actor=production_user, reason="typo"),
        pytest.raises(SpecificationInUseError, match="create a new version"),
    ):
        used_item.save()
    used_item.refresh_from_db()
    assert used_item.lower_limit == Decimal("95")


def test_an_item_cannot_be_moved_out_of_or_into_a_used_version(production_user, used_item):
    other = ReleaseSpecificationFactory()
    used_item.specification = other
    with (
        audit_context(actor=production_user, reason="move"),
        pytest.raises(DomainError, match="new version"),
    ):
        used_item.save()
    free = SpecificationItemFactory(specification=other, parameter="CD90")
    used_spec = SpecificationItem.objects.get(pk=used_item.pk).specification
    free.specification = used_spec
    with audit_context(actor=production_user, reason="move"):
        with pytest.raises(DomainError, match="new version"):
            free.save()
        with pytest.raises(DomainError, match="new version"):
            used_item.delete()


def test_items_of_an_unused_version_can_still_be_edited(production_user):
    item = SpecificationItemFactory(parameter="CD90")
    item.lower_limit = Decimal("90")
    with audit_context(actor=production_user, reason="draft"):
        item.save()
    item.refresh_from_db()
    assert item.lower_limit == Decimal("90")


# Criterion text: on the QP's page, in failure messages and in the signed content ------


@pytest.mark.parametrize(
    ("kind", "limit", "unit", "text"),
    [
        ("min", "70", "%", "≥ 70 %"),
        ("min", "100", "%", "≥ 100 %"),
        ("max", "2", "%", "≤ 2 %"),
        ("max", "0.5", "EU/ml", "≤ 0.5 EU/ml"),
        ("min", "1000", "", "≥ 1000"),
    ],
)
def test_criterion_prints_limits_as_plain_decimals(kind, limit, unit, text):
    item = SpecificationItem(
        kind=kind,
        lower_limit=Decimal(limit) if kind == "min" else None,
        upper_limit=Decimal(limit) if kind == "max" else None,
        unit=unit,
    )
    assert item.criterion == text


def test_signed_content_carries_the_plain_criterion(db):
    batch = make_release_ready_batch()
    criteria = {c["parameter"]: c["criterion"] for c in batch.signature_content()["checks"]}
    assert criteria["Viability"] == "≥ 70 %"


def test_the_item_admin_offers_only_unused_versions_for_a_new_item(
    client, production_user, password, used_item
):
    free = ReleaseSpecificationFactory()
    assert client.login(username=production_user.username, password=password)
    add = reverse("admin:batches_specificationitem_add")
    response = client.post(
        add,
        {
            "specification": used_item.specification_id,
            "category": "immunophenotype",
            "parameter": "CD105",
            "kind": "min",
            "lower_limit": "95",
            "unit": "%",
            "required": "on",
            "change_reason": "",
        },
    )
    assert response.status_code == 200  # the form refuses the choice
    assert not SpecificationItem.objects.filter(parameter="CD105").exists()
    choices = response.context["adminform"].form.fields["specification"].queryset
    assert list(choices) == [free]
