"""Viability before cryopreservation is entered once, as its release check: the batch's
figure follows the check (on the trail), is never typed on the batch, and records from
before where the two differ are listed by a migration that changes nothing."""

import datetime
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import reverse

from audit.models import AuditEvent
from batches import services
from batches.exceptions import BatchError
from batches.models import Batch, ReleaseCheck
from tests.factories import BatchFactory, ReleaseSpecificationFactory, SpecificationItemFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 3, 28)
report_migration = importlib.import_module("batches.migrations.0008_report_viability_differences")


@pytest.fixture
def batch(system_context):
    spec = ReleaseSpecificationFactory()
    SpecificationItemFactory(specification=spec, parameter="CD73", lower_limit=95)
    SpecificationItemFactory(
        specification=spec, category="viability", parameter="Viability", lower_limit=70
    )
    return BatchFactory(specification=spec, status=Batch.Status.IN_PRODUCTION, viability_pct=None)


def item(batch, parameter):
    return batch.specification.items.get(parameter=parameter)


def test_the_viability_check_sets_the_batchs_figure_on_the_trail(batch, production_user):
    services.record_check(
        batch, item(batch, "Viability"), actor=production_user, tested_on=DAY, value="91.5"
    )
    batch.refresh_from_db()
    assert batch.viability_pct == Decimal("91.5")
    event = AuditEvent.objects.filter(object_type="batches.batch", action="update").latest("pk")
    assert event.actor == production_user
    assert event.changes["viability_pct"][1] == "91.5"


def test_a_correction_of_the_check_follows_and_another_item_leaves_it(batch, production_user):
    viability = item(batch, "Viability")
    services.record_check(batch, viability, actor=production_user, tested_on=DAY, value="91.5")
    services.record_check(batch, viability, actor=production_user, tested_on=DAY, value="88")
    services.record_check(
        batch, item(batch, "CD73"), actor=production_user, tested_on=DAY, value="98"
    )
    batch.refresh_from_db()
    assert batch.viability_pct == Decimal("88")


def test_deleting_the_check_clears_the_figure(batch, production_user):
    check = services.record_check(
        batch, item(batch, "Viability"), actor=production_user, tested_on=DAY, value="91.5"
    )
    services.delete_check(check, actor=production_user, reason="typed on the wrong batch")
    batch.refresh_from_db()
    assert batch.viability_pct is None


def test_viability_is_not_typed_on_the_batch(batch, production_user, client):
    with pytest.raises(BatchError):
        services.correct_batch(batch, actor=production_user, viability_pct=Decimal("90"))
    client.force_login(production_user)
    page = client.get(reverse("admin:batches_batch_change", args=[batch.pk]))
    assert page.status_code == 200
    assert 'name="viability_pct"' not in page.content.decode()
    assert "viability before cryopreservation" in page.content.decode().lower()


def test_migration_lists_batches_whose_figure_differs_and_changes_nothing(
    batch, production_user, capsys
):
    services.record_check(
        batch, item(batch, "Viability"), actor=production_user, tested_on=DAY, value="91.5"
    )
    same = BatchFactory(specification=batch.specification, viability_pct=Decimal("91.5"))
    ReleaseCheck.objects.create(
        batch=same, item=item(batch, "Viability"), result_value=Decimal("91.5"), tested_on=DAY
    )
    differs = BatchFactory(specification=batch.specification, viability_pct=Decimal("93"))
    ReleaseCheck.objects.create(
        batch=differs, item=item(batch, "Viability"), result_value=Decimal("90"), tested_on=DAY
    )
    unchecked = BatchFactory(specification=batch.specification, viability_pct=Decimal("92"))
    before = list(Batch.objects.order_by("pk").values_list("viability_pct", flat=True))
    events = AuditEvent.objects.count()

    report_migration.report(apps, None)

    printed = capsys.readouterr().out
    assert f"{differs.code}: batch viability 93 %, viability check 90 %." in printed
    assert f"{unchecked.code}: batch viability 92 %, no viability check." in printed
    assert batch.code not in printed and same.code not in printed
    assert "2 batch(es)" in printed
    assert list(Batch.objects.order_by("pk").values_list("viability_pct", flat=True)) == before
    assert AuditEvent.objects.count() == events
