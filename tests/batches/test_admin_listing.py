"""The long changelists write their rows directly (`batches.admin.listing`): the same
HTML as Django's own `{% result_list %}`, cell for cell."""

import datetime

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import result_list, results
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from batches.admin.bags import BagAdmin
from batches.admin.listing import admin_templates
from batches.models import Bag, Batch
from tests.factories import BagFactory, BatchFactory, make_release_ready_batch

pytestmark = pytest.mark.django_db

BATCHES = "admin:batches_batch_changelist"
BAGS = "admin:batches_bag_changelist"


def django_table(cl) -> str:
    """The table Django's `{% result_list cl %}` writes for this list."""
    return render_to_string(admin_templates(cl.opts, "change_list_results.html"), result_list(cl))


def assert_rows_as_django_writes_them(response):
    assert response.status_code == 200
    cl = response.context_data["cl"]
    assert len(cl.result_list) > 0
    django_rows = ["".join(row) for row in results(cl)]
    assert ["".join(row) for row in cl.quick_results()] == django_rows
    table = django_table(cl)
    assert cl.result_table == table
    assert table in response.content.decode()


@pytest.fixture
def batches(db):
    soon = timezone.localdate() + datetime.timedelta(days=10)
    make_release_ready_batch(status=Batch.Status.QUARANTINE, bags=2)  # ready for the QP
    BatchFactory(status=Batch.Status.IN_PRODUCTION)  # fails: no checks, no serology
    BatchFactory(status=Batch.Status.RELEASED, expires_on=soon)
    BatchFactory(status=Batch.Status.REJECTED, passages=2)


@pytest.mark.parametrize(
    "query", ["", "?o=-3.2", "?status__exact=quarantine", "?q=E000126", "?_popup=1"]
)
def test_batch_rows_are_the_html_django_writes(client, production_user, batches, query):
    client.force_login(production_user)
    assert_rows_as_django_writes_them(client.get(reverse(BATCHES) + query))


def test_a_filtered_list_keeps_its_filters_in_each_rows_link(client, production_user, batches):
    client.force_login(production_user)
    response = client.get(reverse(BATCHES) + "?status__exact=released&q=E0")
    assert_rows_as_django_writes_them(response)
    batch = Batch.objects.get(status=Batch.Status.RELEASED)
    url = reverse("admin:batches_batch_change", args=[batch.pk])
    filters = "_changelist_filters=status__exact%3Dreleased%26q%3DE0"
    assert f'<th class="field-code"><a href="{url}?{filters}">' in response.content.decode()


@pytest.mark.parametrize("query", ["", "?o=5", "?status__exact=discarded", "?q=0"])
def test_bag_rows_are_the_html_django_writes(client, production_user, query):
    batch = make_release_ready_batch(bags=2)
    BagFactory(batch=batch, location=None, status=Bag.Status.DISCARDED, discard_reason="Leak")
    BagFactory(batch=batch, status=Bag.Status.AVAILABLE)
    client.force_login(production_user)
    assert_rows_as_django_writes_them(client.get(reverse(BAGS) + query))


@admin.display(boolean=True, description="stored")
def stored(bag):
    return bag.location_id is not None


def blank(bag):
    return "  "


blank.empty_value_display = "(none)"  # an attribute `items_for_result` reads


def test_every_kind_of_column_is_written_as_django_writes_it(client, production_user, monkeypatch):
    """Fields and key columns, model properties and methods, `__` lookups, callables
    (a lambda, a boolean, one with its own empty display) and dates with times."""
    batch = make_release_ready_batch(bags=2)
    BagFactory(batch=batch, location=None)
    columns = [
        "code",
        "id",
        "__str__",
        "batch__din",
        "batch__donor",
        "audit_code",
        "created_at",
        "status",
        stored,
        blank,
        lambda bag: bag.division,
    ]
    monkeypatch.setattr(BagAdmin, "list_display", columns)
    client.force_login(production_user)
    response = client.get(reverse(BAGS))
    assert_rows_as_django_writes_them(response)
    assert 'class="field-stored"><img src=' in response.content.decode()


def test_the_action_checkbox_is_djangos():
    bag = BagFactory()
    model_admin = admin.site._registry[Bag]
    assert model_admin.action_checkbox(bag) == admin.ModelAdmin.action_checkbox(model_admin, bag)
