"""Every endpoint of the generated schema, as every role, against docs/permissions.md."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from tests.api.conftest import make_batch, make_dose, token_client
from tests.api.test_schema import generated_schema
from tests.conftest import PASSWORD
from tests.factories import PatientFactory, receive_at, released_batch_with_bags
from vigilance import services as vigilance

ROLES = ["anonymous", "outsider", "production", "qp", "pharmacy", "clinician", "auditor"]

# The contract, as data; docs/permissions.md has the same table (checked below).
MATRIX = {
    "/api/v1/donors/":                [401, 403, 200, 200, 403, 403, 200],
    "/api/v1/batches/":               [401, 403, 200, 200, 200, 200, 200],
    "/api/v1/bags/":                  [401, 403, 200, 200, 200, 200, 200],
    "/api/v1/release-checks/":        [401, 403, 200, 200, 200, 403, 200],
    "/api/v1/shipments/":             [401, 403, 200, 200, 200, 403, 200],
    "/api/v1/patients/":              [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/protocols/":             [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/doses/":                 [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/infusions/":             [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/adverse-events/":        [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/audit-events/":          [401, 403, 403, 403, 403, 403, 200],
    "/api/v1/audit-events/verify/":   [401, 403, 403, 403, 403, 403, 200],
    "/api/v1/trace/donors/{code}/":   [401, 403, 403, 403, 403, 403, 200],
    "/api/v1/trace/patients/{code}/": [401, 403, 403, 403, 403, 403, 200],
    "/api/v1/trace/bags/{code}/":     [401, 403, 403, 403, 403, 403, 200],
    "/api/v1/reports/cohort/":        [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/reports/cohort/patients/": [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/recalls/":               [401, 403, 403, 200, 200, 200, 200],
    "/api/v1/recalls/{id}/lookback/": [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/recalls/{id}/exposed-patients/": [401, 403, 403, 403, 200, 200, 200],
    "/api/v1/reaction-reports/":      [401, 403, 403, 403, 200, 200, 200],
    "POST /api/v1/auth/login/ (no body)": [400] * 7,
    "POST /api/v1/auth/logout/":      [401, 204, 204, 204, 204, 204, 204],
}  # fmt: skip

UNSAFE = ["post", "put", "patch", "delete"]


def _doc_matrix() -> dict:
    text = (Path(settings.BASE_DIR) / "docs" / "permissions.md").read_text()
    table = text.split("<!-- matrix:start -->")[1].split("<!-- matrix:end -->")[0]
    rows = [line.strip("| ").split(" | ") for line in table.strip().splitlines()[2:]]
    return {row[0]: [int(cell) for cell in row[1:]] for row in rows}


def test_the_documented_matrix_is_the_tested_one():
    assert _doc_matrix() == MATRIX


@pytest.fixture
def world(production_user, qp_user, pharmacist, clinician, auditor, outsider):
    batch = make_batch(bags=2, checks=1, signer=qp_user)
    patient = PatientFactory(code="SAL-P01")
    dose = make_dose(patient, batch, actor=pharmacist)
    _, shipped = released_batch_with_bags([60_000_000], hospital=None)
    shipment = receive_at(shipped, patient.hospital)
    report = vigilance.submit_part_a(
        dose.adverse_events.first(), actor=clinician, password=PASSWORD
    )
    # The patient's batch: the recall reaches their hospital (HUS), so its roles read it.
    recall = vigilance.recall_batch(batch, actor=qp_user, password=PASSWORD, reason="test")
    users = {
        "anonymous": None,
        "outsider": outsider,
        "production": production_user,
        "qp": qp_user,
        "pharmacy": pharmacist,
        "clinician": clinician,
        "auditor": auditor,
    }
    # Path parameters: a real record for every item endpoint.
    values = {
        "donors": batch.donor.code,
        "batches": batch.code,
        "bags": batch.bags.first().code,
        "patients": patient.code,
        "release-checks": batch.checks.first().pk,
        "doses": dose.pk,
        "protocols": dose.protocol_id,
        "infusions": dose.infusion.pk,
        "adverse-events": dose.adverse_events.first().pk,
        "audit-events": 1,
        "shipments": shipment.code,
        "recalls": recall.pk,
        "reaction-reports": report.pk,
    }
    return users, values


def _concrete(path: str, values: dict) -> str:
    if "{" not in path:
        return path
    parts = path.split("/")
    key = parts[4] if parts[3] == "trace" else parts[3]
    return re.sub(r"\{[^}]+\}", str(values[key]), path)


def _expected(path: str) -> list[int]:
    if path in MATRIX:
        return MATRIX[path]
    # An item answers as its collection.
    collection = re.sub(r"\{[^}]+\}/$", "", path)
    return MATRIX[collection]


@pytest.mark.django_db
def test_every_schema_endpoint_answers_each_role_as_the_matrix_says(world):
    users, values = world
    schema = generated_schema()
    seen, mismatches = set(), []
    for path, item in schema["paths"].items():
        for method in item:
            if method != "get":
                key = f"{method.upper()} {path}" + (" (no body)" if "login" in path else "")
                expected = MATRIX[key]
            else:
                key = path
                expected = _expected(path)
            seen.add(key if key in MATRIX else re.sub(r"\{[^}]+\}/$", "", path))
            url = _concrete(path, values)
            for role, status in zip(ROLES, expected, strict=True):
                # A fresh token per request: logging out revokes the one it used.
                client = token_client(users[role])
                got = getattr(client, method)(url).status_code
                if got != status:
                    mismatches.append(f"{role} {method.upper()} {url}: {got}, expected {status}")
    assert mismatches == []
    assert seen == set(MATRIX), "every row of the matrix is an endpoint of the schema"


@pytest.mark.django_db
def test_no_role_can_write_through_the_api(world):
    users, values = world
    schema = generated_schema()
    refused = []
    for path, item in schema["paths"].items():
        if "/auth/" in path:
            continue
        assert set(item) == {"get"}, f"{path} documents a write method"
        url = _concrete(path, values)
        for role in ROLES:
            client = token_client(users[role])
            for method in UNSAFE:
                status = getattr(client, method)(url, {}, format="json").status_code
                expected = {401} if role == "anonymous" else {403, 405}
                if status not in expected:
                    refused.append(f"{role} {method.upper()} {url}: {status}")
    assert refused == []


@pytest.mark.django_db
def test_auditor_write_attempts_change_nothing(world):
    users, values = world
    client = token_client(users["auditor"])
    from batches.models import Bag

    bag = Bag.objects.get(code=values["bags"])

    assert client.post("/api/v1/bags/", {"status": "discarded"}).status_code in (403, 405)
    assert client.patch(f"/api/v1/bags/{bag.code}/", {"status": "discarded"}).status_code in (
        403,
        405,
    )
    assert client.delete(f"/api/v1/bags/{bag.code}/").status_code in (403, 405)
    bag.refresh_from_db()
    assert bag.status == "quarantine"
    assert User.objects.filter(username="audit1").exists()
