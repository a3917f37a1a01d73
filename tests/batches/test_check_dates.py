"""A release check is measured between its batch's procurement and today: an earlier or
a future date is refused by the check service, so on the grid and in an imported file
too, with a message naming the floor; nothing is written."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from batches import imports, services
from batches.exceptions import BatchError
from batches.models import Batch, ReleaseCheck
from tests.factories import BatchFactory, ReleaseSpecificationFactory, SpecificationItemFactory

pytestmark = pytest.mark.django_db

PROCURED = datetime.date(2026, 3, 2)  # ProcurementFactory's
BEFORE = "the date measured cannot be before 2026-03-02, the procurement of batch"


@pytest.fixture
def batch(system_context):
    spec = ReleaseSpecificationFactory()
    SpecificationItemFactory(specification=spec, parameter="CD73", lower_limit=95)
    SpecificationItemFactory(specification=spec, parameter="CD90", lower_limit=95)
    batch = BatchFactory(specification=spec, status=Batch.Status.IN_PRODUCTION)
    assert batch.procurement.procured_on == PROCURED
    return batch


def items_of(batch):
    return {i.parameter: i for i in batch.specification.items.all()}


def test_a_check_measured_before_the_procurement_is_refused(batch, production_user):
    cd73 = items_of(batch)["CD73"]
    before = AuditEvent.objects.count()

    with pytest.raises(BatchError) as refused:
        services.record_check(
            batch,
            cd73,
            actor=production_user,
            tested_on=PROCURED - datetime.timedelta(days=1),
            value="98",
        )

    assert refused.value.messages == [f"CD73: {BEFORE} {batch.code}."]
    assert refused.value.field == "tested_on"
    assert not ReleaseCheck.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_check_measured_in_the_future_is_refused(batch, production_user):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(BatchError, match="CD73: the date measured cannot be in the future."):
        services.record_check(
            batch, items_of(batch)["CD73"], actor=production_user, tested_on=tomorrow, value="98"
        )
    assert not ReleaseCheck.objects.exists()


def test_a_check_measured_on_the_procurement_day_or_today_is_recorded(batch, production_user):
    items = items_of(batch)
    services.record_check(
        batch, items["CD73"], actor=production_user, tested_on=PROCURED, value="98"
    )
    services.record_check(
        batch, items["CD90"], actor=production_user, tested_on=timezone.localdate(), value="98"
    )
    assert ReleaseCheck.objects.filter(batch=batch).count() == 2


def test_the_grid_lists_every_implausible_date_and_writes_nothing(client, batch, production_user):
    items = items_of(batch)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    data = {"change_reason": ""}
    for parameter, day in (("CD73", "2026-03-01"), ("CD90", tomorrow.isoformat())):
        data[f"result_{items[parameter].pk}"] = "98"
        data[f"tested_on_{items[parameter].pk}"] = day
    client.force_login(production_user)

    response = client.post(reverse("admin:batches_batch_checks", args=[batch.pk]), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert f"CD73: {BEFORE} {batch.code}." in page
    assert "CD90: the date measured cannot be in the future." in page
    assert not ReleaseCheck.objects.exists()


def test_an_imported_row_measured_before_the_procurement_is_refused_with_its_row(
    batch, production_user
):
    content = (
        "batch code,specification item,value,unit,method/instrument,date measured\n"
        f"{batch.code},CD90,98,%,FACSCanto II,2026-03-28\n"
        f"{batch.code},CD73,98,%,FACSCanto II,2026-02-27\n"
    ).encode()
    services.create_assay_method(
        actor=None, name="FACSCanto II", unit="%", reportable_min=0, reportable_max=100
    )

    preview = imports.preview("r.csv", content, user=production_user)

    assert preview.errors == [f"Row 3: CD73: {BEFORE} {batch.code}."]
    with pytest.raises(imports.ImportFileError):
        imports.import_results(preview, actor=production_user)
    assert not ReleaseCheck.objects.exists()
