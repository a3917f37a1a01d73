"""The lookback, the exposed patients, the recalls and the reaction reports read in a
constant number of queries whatever the number of patients."""

import pytest
from django.utils import timezone

from dosing import services as dosing
from tests.dosing.flow import hours, infused_thawed
from tests.factories import ProtocolFactory, receive_at, released_batch_with_bags
from tests.vigilance.conftest import hospitals, patient_at
from vigilance import services

pytestmark = pytest.mark.django_db

PATHS = ["/api/v1/recalls/", "lookback/", "exposed-patients/", "exposed-patients/?format=csv"]


def _recalled_with(n, pharmacist, clinician, qp_user, password):
    ProtocolFactory()
    hus, hgm = hospitals()
    batch, bags = released_batch_with_bags([75_000_000] * (2 * n + 2), hospital=None)
    receive_at(bags[: n + 1], hus)
    receive_at(bags[n + 1 :], hgm)
    for i in range(n):
        dose = infused_thawed(
            patient_at(hgm if i % 2 else hus),
            pharmacist,
            clinician,
            at=timezone.now() - hours(5),
        )
        dosing.report_adverse_event(
            dose.patient,
            actor=clinician,
            dose=dose,
            onset_at=timezone.now() - hours(4),
            description="fever",
            ctcae_grade=3,
            serious=True,
            outcome="recovered",
            causality="possible",
        )
    return services.recall_batch(batch, actor=qp_user, password=password, reason="test")


@pytest.mark.parametrize("n", [1, 4])
def test_recall_endpoints_constant_queries(
    n, client, pharmacist, clinician, qp_user, auditor, password, django_assert_max_num_queries
):
    recall = _recalled_with(n, pharmacist, clinician, qp_user, password)
    client.force_login(auditor)
    for path in PATHS:
        url = path if path.startswith("/") else f"/api/v1/recalls/{recall.pk}/{path}"
        with django_assert_max_num_queries(14):
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
        assert response.status_code == 200, url


@pytest.mark.parametrize("n", [1, 4])
def test_lookback_page_constant_queries(
    n, client, pharmacist, clinician, qp_user, password, django_assert_max_num_queries
):
    recall = _recalled_with(n, pharmacist, clinician, qp_user, password)
    client.force_login(pharmacist)
    with django_assert_max_num_queries(16):
        assert client.get(f"/vigilance/recalls/{recall.pk}/").status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get("/vigilance/recalls/").status_code == 200
