"""The cohort's figures are computed once per change of the record (issue 15: the report
at 20,000 patients took seconds on every request): kept under the audit trail's head, per
reader's sites and filter, and never served once any record has changed."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.context import Origin, audit_context
from tests.api.conftest import token_client
from tests.reports.test_cohort import _days, hand_made_cohort

pytestmark = pytest.mark.django_db

FIGURES = "/api/v1/reports/cohort/"


def _get(client, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(FIGURES, params)
    assert response.status_code == 200
    return response.json(), len(queries)


def test_the_figures_are_computed_once_then_read_until_the_record_changes(clinician, pharmacist):
    from patients.models import ClinicalOutcome

    *_, p3 = hand_made_cohort(pharmacist)
    client = token_client(clinician)

    first, computed = _get(client)
    again, kept = _get(client)
    assert again == first
    assert first["outcomes"]["extubated"] == 1
    assert kept < computed - 5, "the kept figures are read, not computed again"

    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        ClinicalOutcome.objects.create(patient=p3, kind="extubation", occurred_on=_days(12))

    changed, recomputed = _get(client)
    assert changed["outcomes"]["extubated"] == 2, "a new record is never hidden by kept figures"
    assert changed["outcomes"]["still_ventilated"] == 0
    assert recomputed > kept + 5, "computed again, not read"


def test_kept_figures_are_the_readers_own_sites_and_filter(
    clinician, auditor, pharmacist, second_hospital
):
    hand_made_cohort(pharmacist)
    hand_made_cohort(pharmacist, hospital=second_hospital, prefix="FJD")

    # The network's figures first: the hospital's reader must not be given them.
    everything, _ = _get(token_client(auditor))
    own, _ = _get(token_client(clinician))
    fjd, _ = _get(token_client(auditor), hospital="FJD")
    later, _ = _get(token_client(auditor), since="2020-04-11")

    assert everything["patients_treated"] == 6
    assert own["patients_treated"] == 3
    assert fjd["patients_treated"] == 3
    assert later["patients_treated"] == 0


@pytest.mark.parametrize("size", [1, 3])
def test_kept_figures_are_read_in_queries_that_do_not_grow_with_the_cohort(
    auditor, pharmacist, size, django_assert_max_num_queries
):
    for index in range(size):
        hand_made_cohort(pharmacist, prefix=f"T{index}")
    client = token_client(auditor)
    assert client.get(FIGURES).json()["patients_treated"] == 3 * size

    # token (2) + permissions (2) + the reader's sites + the trail's head + the kept figures.
    with django_assert_max_num_queries(7):
        response = client.get(FIGURES)

    assert response.json()["patients_treated"] == 3 * size
