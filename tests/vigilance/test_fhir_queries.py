"""A FHIR search page and a read cost the same few queries whatever the data size."""

import pytest

from tests.api.conftest import token_client
from tests.vigilance.conftest import treated_patients

pytestmark = pytest.mark.django_db

# token (2) + permissions (2) + the reader's sites + count + page, and the fixed prefetches
# of each type: dispenses the dispensing user's groups; infusions the dose's bags and the infusing
# user's groups; adverse events the dose's bags.
SEARCH_QUERIES = {
    "Patient": 7,
    "BiologicallyDerivedProduct": 7,
    "BiologicallyDerivedProductDispense": 8,
    "Procedure": 9,
    "AdverseEvent": 8,
}


@pytest.mark.parametrize("size", [1, 4])
@pytest.mark.parametrize("resource_type", list(SEARCH_QUERIES))
def test_search_page_query_count_does_not_grow_with_rows(
    auditor, pharmacist, clinician, size, resource_type, django_assert_max_num_queries
):
    patients = treated_patients(size, pharmacist, clinician)
    client = token_client(auditor)
    by_patient = "identifier" if resource_type == "Patient" else "patient"

    with django_assert_max_num_queries(SEARCH_QUERIES[resource_type]):
        everything = client.get(f"/api/fhir/{resource_type}")
    with django_assert_max_num_queries(SEARCH_QUERIES[resource_type]):
        one_patient = client.get(f"/api/fhir/{resource_type}", {by_patient: patients[-1].code})

    assert everything.status_code == one_patient.status_code == 200
    assert everything.json()["total"] >= size


@pytest.mark.parametrize("size", [1, 4])
def test_read_query_count_does_not_grow_with_rows(
    auditor, pharmacist, clinician, size, django_assert_max_num_queries
):
    patients = treated_patients(size, pharmacist, clinician)
    dose = patients[-1].doses.get(number=2)
    client = token_client(auditor)

    with django_assert_max_num_queries(8):  # no count on a read
        response = client.get(f"/api/fhir/Procedure/{dose.pk}")

    assert response.status_code == 200
