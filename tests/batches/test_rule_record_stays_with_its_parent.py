"""Rule: a recorded row stays with its parent — a serology result or procurement with its
donor, a release check with its batch and item. It is corrected, or recorded again for
the other parent; the services refuse the move (the admin's fixed inline parent is only
how the page shows it)."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from batches import services
from batches.exceptions import BatchError
from batches.models import Batch, ReleaseCheck, SerologyResult
from tests.factories import (
    BatchFactory,
    DonorFactory,
    ProcurementFactory,
    SerologyResultFactory,
    SpecificationItemFactory,
    make_release_ready_batch,
)

pytestmark = pytest.mark.django_db

MOVED_DONOR = "A record cannot be moved to another donor: record it again."
MOVED_CHECK = "A recorded result cannot be moved to another item or batch"


def test_a_serology_result_is_not_moved_to_another_donor(production_user):
    result = SerologyResultFactory()
    other = DonorFactory()
    with pytest.raises(BatchError, match=MOVED_DONOR):
        services.record_serology(
            other,
            actor=production_user,
            test=result.test,
            result=result.result,
            sampled_on=result.sampled_on,
            correcting=result,
        )
    assert SerologyResult.objects.get(pk=result.pk).donor_id == result.donor_id


def test_a_procurement_is_not_moved_to_another_donor(production_user):
    procurement = ProcurementFactory()
    with pytest.raises(BatchError, match=MOVED_DONOR):
        services.record_procurement(
            DonorFactory(),
            actor=production_user,
            procured_on=procurement.procured_on,
            site=procurement.site,
            lipoaspirate_volume_ml=procurement.lipoaspirate_volume_ml,
            fat_weight_g=procurement.fat_weight_g,
            performed_by=procurement.performed_by,
            correcting=procurement,
        )


def test_a_check_is_not_moved_to_another_item(production_user):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    check = batch.checks.select_related("item").get(item__parameter="CD73")
    other_item = SpecificationItemFactory(specification=batch.specification, parameter="CD90")
    with pytest.raises(BatchError, match=MOVED_CHECK):
        services.record_check(
            batch,
            other_item,
            actor=production_user,
            tested_on=check.tested_on,
            value=Decimal("99"),
            correcting=check,
        )
    assert ReleaseCheck.objects.get(pk=check.pk).item_id == check.item_id
    assert not ReleaseCheck.objects.filter(item=other_item).exists()


def test_a_check_is_not_moved_to_another_batch(production_user):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    check = batch.checks.select_related("item").get(item__parameter="CD73")
    other = BatchFactory(status=Batch.Status.IN_PRODUCTION, specification=batch.specification)
    with pytest.raises(BatchError, match=MOVED_CHECK):
        services.record_check(
            other,
            check.item,
            actor=production_user,
            tested_on=check.tested_on,
            value=Decimal("99"),
            correcting=check,
        )


def test_correcting_a_row_in_place_is_allowed(production_user):
    result = SerologyResultFactory()
    corrected = services.record_serology(
        result.donor,
        actor=production_user,
        test=result.test,
        result=result.result,
        sampled_on=datetime.date(2026, 3, 3),
        correcting=result,
    )
    assert corrected.pk == result.pk
    assert corrected.sampled_on == datetime.date(2026, 3, 3)


def test_the_serology_page_shows_the_services_refusal_and_moves_nothing(
    client, production_user, password
):
    result = SerologyResultFactory()
    other = DonorFactory()
    assert client.login(username=production_user.username, password=password)
    url = reverse("admin:batches_serologyresult_change", args=[result.pk])
    response = client.post(
        url,
        {
            "donor": str(other.pk),
            "test": result.test,
            "result": result.result,
            "sampled_on": str(result.sampled_on),
            "change_reason": "",
        },
    )
    assert response.status_code == 302
    assert MOVED_DONOR in [str(m) for m in get_messages(response.wsgi_request)]
    assert SerologyResult.objects.get(pk=result.pk).donor_id == result.donor_id
