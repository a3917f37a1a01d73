"""A batch's release checks on one grid: every item a row, one save through the service,
one audit event per check, corrections with a reason, pass/fail asked of the rule."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEvent
from batches import services
from batches.models import Batch, ReleaseCheck
from tests.conftest import role_user
from tests.factories import (
    BatchFactory,
    ReleaseSpecificationFactory,
    SpecificationItemFactory,
    make_release_ready_batch,
)

pytestmark = pytest.mark.django_db


def grid_url(batch):
    return reverse("admin:batches_batch_checks", args=[batch.pk])


def evaluate_url(batch):
    return reverse("admin:batches_batch_checks_evaluate", args=[batch.pk])


@pytest.fixture
def spec():
    spec = ReleaseSpecificationFactory()
    SpecificationItemFactory(
        specification=spec, category="immunophenotype", parameter="CD105", lower_limit=95
    )
    SpecificationItemFactory(
        specification=spec,
        category="immunophenotype",
        parameter="HLA-DR",
        kind="max",
        lower_limit=None,
        upper_limit=2,
    )
    SpecificationItemFactory(
        specification=spec,
        category="differentiation",
        parameter="Adipogenic differentiation",
        kind="expected",
        lower_limit=None,
        expected_result="positive",
        unit="",
    )
    return spec


@pytest.fixture
def batch(spec):
    return BatchFactory(specification=spec, status=Batch.Status.IN_PRODUCTION)


def items_of(batch):
    return {i.parameter: i for i in batch.specification.items.all()}


def grid_post(batch, reason="", **results):
    items = items_of(batch)
    data = {"change_reason": reason}
    for parameter, item in items.items():
        data[f"result_{item.pk}"] = results.get(parameter, "")
        data[f"tested_on_{item.pk}"] = "2026-03-28"
    return data


def test_grid_renders_every_item_with_criterion_and_unit(client, production_user, batch):
    client.force_login(production_user)
    response = client.get(grid_url(batch))
    assert response.status_code == 200
    content = response.content.decode()
    for item in batch.specification.items.all():
        assert f'name="result_{item.pk}"' in content
        assert item.criterion in content
    assert "Adipogenic differentiation" in content  # never cut off
    assert '<span class="unit">%</span>' in content
    assert "batches/check_grid.js" in content
    assert "<script>" not in content  # no inline script (the CSP forbids it)
    change = client.get(reverse("admin:batches_batch_change", args=[batch.pk]))
    assert grid_url(batch) in change.content.decode()


def test_grid_save_writes_each_check_through_the_service(
    client, production_user, batch, monkeypatch
):
    calls = []
    original = services.record_results

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "record_results", spy)
    client.force_login(production_user)
    response = client.post(
        grid_url(batch),
        grid_post(
            batch, **{"CD105": "90", "HLA-DR": "0.5", "Adipogenic differentiation": "Positive"}
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert len(calls) == 1 and calls[0]["actor"] == production_user
    checks = {c.item.parameter: c for c in ReleaseCheck.objects.filter(batch=batch)}
    assert checks["CD105"].result_value == Decimal("90") and not checks["CD105"].passed
    assert checks["HLA-DR"].passed and checks["Adipogenic differentiation"].passed
    assert checks["CD105"].tested_on == datetime.date(2026, 3, 28)
    events = AuditEvent.objects.filter(object_type="batches.releasecheck", action="create")
    assert events.count() == 3
    assert {e.actor for e in events} == {production_user}
    assert {e.origin for e in events} == {"admin"}


def test_unchanged_rows_are_not_written_again(client, production_user, batch):
    client.force_login(production_user)
    client.post(grid_url(batch), grid_post(batch, CD105="97"))
    before = AuditEvent.objects.count()
    response = client.post(grid_url(batch), grid_post(batch, CD105="97.000"))
    assert response.status_code == 302
    assert AuditEvent.objects.count() == before


def test_correction_without_reason_is_refused_and_nothing_changes(client, production_user, batch):
    client.force_login(production_user)
    client.post(grid_url(batch), grid_post(batch, CD105="90"))
    before = AuditEvent.objects.count()
    response = client.post(grid_url(batch), grid_post(batch, CD105="96", **{"HLA-DR": "1"}))
    assert response.status_code == 200
    assert "a correction needs a written reason" in response.content.decode()
    assert ReleaseCheck.objects.get(batch=batch, item__parameter="CD105").result_value == 90
    assert not ReleaseCheck.objects.filter(batch=batch, item__parameter="HLA-DR").exists()
    assert AuditEvent.objects.count() == before

    response = client.post(
        grid_url(batch), grid_post(batch, "re-read the cytometer file", CD105="96")
    )
    assert response.status_code == 302
    check = ReleaseCheck.objects.get(batch=batch, item__parameter="CD105")
    assert check.result_value == 96 and check.passed
    event = AuditEvent.objects.filter(object_type="batches.releasecheck").latest("seq")
    assert event.action == "update" and event.reason == "re-read the cytometer file"


def test_bad_number_is_a_field_error(client, production_user, batch):
    client.force_login(production_user)
    response = client.post(grid_url(batch), grid_post(batch, CD105="ninety"))
    assert response.status_code == 200
    assert "is not a number" in response.content.decode()
    assert not ReleaseCheck.objects.filter(batch=batch).exists()


def test_evaluate_answers_from_the_rule(client, production_user, batch):
    client.force_login(production_user)
    items = items_of(batch)

    def ask(parameter, value):
        response = client.get(evaluate_url(batch), {"item": items[parameter].pk, "value": value})
        assert response.status_code == 200
        return response.json()["verdict"]

    assert ask("CD105", "95") == "pass"  # the limit itself passes (inclusive)
    assert ask("CD105", "94.9") == "fail"
    assert ask("HLA-DR", "2.01") == "fail"
    assert ask("Adipogenic differentiation", " POSITIVE ") == "pass"
    assert ask("Adipogenic differentiation", "negative") == "fail"
    assert ask("CD105", "") == ""
    assert ask("CD105", "abc") == ""


def test_evaluate_refuses_an_item_of_another_specification(client, production_user, batch):
    other = SpecificationItemFactory()
    client.force_login(production_user)
    response = client.get(evaluate_url(batch), {"item": other.pk, "value": "99"})
    assert response.status_code == 404
    assert client.get(evaluate_url(batch), {"item": "x", "value": "99"}).status_code == 404


def test_production_of_another_facility_gets_404(client, batch, second_facility):
    other = role_user("prod2", "production", second_facility)
    client.force_login(other)
    assert client.get(grid_url(batch)).status_code == 404
    assert client.post(grid_url(batch), grid_post(batch, CD105="99")).status_code == 404
    items = items_of(batch)
    response = client.get(evaluate_url(batch), {"item": items["CD105"].pk, "value": "99"})
    assert response.status_code == 404
    assert not ReleaseCheck.objects.filter(batch=batch).exists()


def test_qp_may_not_record_on_the_grid(client, qp_user, batch):
    client.force_login(qp_user)
    assert client.get(grid_url(batch)).status_code == 403


def test_released_batch_needs_a_reason_for_every_result(client, production_user):
    batch = make_release_ready_batch(status=Batch.Status.RELEASED)
    client.force_login(production_user)
    item = batch.specification.items.get(parameter="CD73")
    data = {"change_reason": ""}
    for i in batch.specification.items.all():
        check = batch.checks.get(item=i)
        data[f"result_{i.pk}"] = (
            check.result_text if check.result_value is None else str(check.result_value)
        )
        data[f"tested_on_{i.pk}"] = check.tested_on.isoformat()
    data[f"result_{item.pk}"] = "96"
    response = client.post(grid_url(batch), data)
    assert response.status_code == 200
    assert "reason" in response.content.decode()
    assert batch.checks.get(item=item).result_value == Decimal("98.5")


def test_grid_page_queries_do_not_grow_with_items(
    client, production_user, django_assert_max_num_queries
):
    for count in (3, 12):
        spec = ReleaseSpecificationFactory()
        for n in range(count):
            SpecificationItemFactory(specification=spec, parameter=f"P{count}-{n}")
        batch = BatchFactory(specification=spec, status=Batch.Status.IN_PRODUCTION)
        client.force_login(production_user)
        with django_assert_max_num_queries(20):
            assert client.get(grid_url(batch)).status_code == 200
        messages = list(get_messages(client.get(grid_url(batch)).wsgi_request))
        assert not messages
