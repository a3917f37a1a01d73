"""The batch list's readiness column judges the batches in production or quarantine on
the page, in the same number of queries however many there are, and reads nothing for
it when the page holds only decided batches."""

import pytest

from tests.factories import BatchFactory, make_release_ready_batch, released_batch_with_bags

pytestmark = pytest.mark.django_db

URL = "/admin/batches/batch/"


def test_readiness_is_judged_for_every_undecided_row_in_constant_queries(
    client, production_user, django_assert_max_num_queries
):
    client.force_login(production_user)
    counts = []
    for total in (1, 4):
        while len(counts) < total:
            make_release_ready_batch(bags=2)
            BatchFactory(passages=None)  # fails a release rule: passages not recorded
            released_batch_with_bags([75_000_000] * 2)
            counts.append(None)
        client.get(URL)
        with django_assert_max_num_queries(12) as captured:
            content = client.get(URL).content.decode()
        assert content.count("class='readiness-ready'") == total
        assert content.count("class='readiness-fails'") == total
        assert content.count("Passages not recorded.") == 2 * total  # title and text
        counts[total - 1] = len(captured.captured_queries)
    assert counts[0] == counts[-1]


def test_a_page_of_decided_batches_reads_nothing_for_readiness(
    client, production_user, django_assert_max_num_queries
):
    client.force_login(production_user)
    released_batch_with_bags([75_000_000] * 2)
    client.get(URL)
    with django_assert_max_num_queries(12) as captured:
        content = client.get(URL).content.decode()
    assert "readiness-ready" not in content and "readiness-fails" not in content
    tables = " ".join(q["sql"] for q in captured.captured_queries)
    assert "batches_releasecheck" not in tables and "batches_serologyresult" not in tables
