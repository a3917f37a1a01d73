"""What a reader may not see, the FHIR server does not show: 404 on read, an empty
Bundle on search — the same `for_user` path as every page and the /api/v1 collections.

Today a reader's view is narrowed by role; once site memberships land in the role
fixtures, the same tests hold for a reader of another hospital (see docs/fhir.md).
"""

import pytest
from fhir.resources.bundle import Bundle

from tests.api.conftest import token_client
from tests.vigilance.conftest import client_reader

pytestmark = pytest.mark.django_db

TYPES = (
    "Patient",
    "BiologicallyDerivedProduct",
    "BiologicallyDerivedProductDispense",
    "Procedure",
    "AdverseEvent",
)


def _every_id(treated, auditor) -> dict[str, list[str]]:
    reader = client_reader(token_client(auditor))
    return {name: [r.id for r in reader.search(name)] for name in TYPES}


@pytest.mark.parametrize("reader", ["outsider", "production_user", "qp_user"])
def test_a_reader_who_may_not_see_the_records_gets_404_and_empty_bundles(
    treated, auditor, reader, request
):
    visible = _every_id(treated, auditor)
    client = token_client(request.getfixturevalue(reader))

    for name in TYPES:
        if name == "BiologicallyDerivedProduct" and reader != "outsider":
            continue  # production and the QP read their bags (below)
        bundle = Bundle.model_validate_json(client.get(f"/api/fhir/{name}").content)
        assert bundle.total == 0 and not bundle.entry, (reader, name)
        for resource_id in visible[name]:
            response = client.get(f"/api/fhir/{name}/{resource_id}")
            assert response.status_code == 404, (reader, name, resource_id)
            assert b'"OperationOutcome"' in response.content


def test_production_reads_its_bags_but_not_which_patient_had_them(
    treated, auditor, production_user
):
    client = token_client(production_user)
    patient = treated[0]

    all_bags = Bundle.model_validate_json(
        client.get("/api/fhir/BiologicallyDerivedProduct").content
    )
    of_patient = Bundle.model_validate_json(
        client.get("/api/fhir/BiologicallyDerivedProduct", {"patient": patient.code}).content
    )

    assert all_bags.total == len(_every_id(treated, auditor)["BiologicallyDerivedProduct"])
    # The patient is not theirs to see, so neither is what the patient received.
    assert of_patient.total == 0


# A hospital's system (an auditor of that hospital) reading only its own resources, with a
# second hospital's beside them: tests/sites/test_walk_every_url.py.
