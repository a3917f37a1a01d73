"""The admin's paginator counts a short list exactly and never counts a long one in full."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from batches.models import Donor
from core.paginators import LargeTablePaginator
from tests.conftest import requires_postgres
from tests.factories import BagFactory, BatchFactory, DonorFactory

pytestmark = pytest.mark.django_db


class SmallLimit(LargeTablePaginator):
    exact_up_to = 3


def test_a_short_list_has_its_exact_count():
    DonorFactory.create_batch(3)
    assert SmallLimit(Donor.objects.all(), 2).count == 3
    assert (
        SmallLimit(Donor.objects.filter(sex="F"), 2).count == Donor.objects.filter(sex="F").count()
    )


@requires_postgres
@pytest.mark.parametrize("filtered", [False, True], ids=["unfiltered", "filtered"])
def test_a_long_list_is_counted_only_up_to_the_limit(filtered):
    DonorFactory.create_batch(6)
    donors = Donor.objects.filter(code__startswith="") if filtered else Donor.objects.all()
    with CaptureQueriesContext(connection) as queries:
        count = SmallLimit(donors.order_by("code"), 2).count
    assert count >= 4  # at least what it counted, estimated beyond
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 4" in sql for sql in counts)
    page = SmallLimit(donors.order_by("code"), 2).page(2)
    assert [d.code for d in page] == list(donors.order_by("code").values_list("code", flat=True))[
        2:4
    ]


@requires_postgres
@pytest.mark.parametrize("path", ["/admin/batches/batch/", "/admin/batches/bag/"])
def test_the_batch_and_bag_changelists_never_count_every_row(client, production_user, path):
    batch = BatchFactory()
    BagFactory.create_batch(3, batch=batch)
    client.force_login(production_user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200 and batch.code in response.content.decode()
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith(("SELECT COUNT(", "SELECT (SELECT COUNT("))  # with the estimate
    ]
    page = [q["sql"] for q in queries.captured_queries if '"batches_batch"."din"' in q["sql"]]
    # No GROUP BY over the batches' bags (a bag count is a subquery per row of the page).
    grouped = 'GROUP BY "batches_batch"'
    assert counts and all("LIMIT 10001)" in sql for sql in counts)  # capped
    assert not any(grouped in sql for sql in counts)
    assert page and all(grouped not in sql for sql in page)


@requires_postgres
def test_an_unfiltered_list_is_counted_in_one_query_below_and_past_the_limit():
    """The count and the table's estimate in one statement: the number of queries of a
    changelist does not change when its table grows past the exact count."""
    DonorFactory.create_batch(2)
    with CaptureQueriesContext(connection) as short:
        assert SmallLimit(Donor.objects.all(), 2).count == 2
    DonorFactory.create_batch(4)
    with CaptureQueriesContext(connection) as long:
        assert SmallLimit(Donor.objects.all(), 2).count >= 4
    assert len(short.captured_queries) == len(long.captured_queries) == 1
