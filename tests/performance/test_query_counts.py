"""Every list, trace and worklist answers in a number of queries that does not grow with
the data: each route is read at a small size and again at a larger one, within the same
limit (what `make bench` checks at scale, held here on every run).

A unit of data is what these pages show: a released batch of bags received at the
hospital (its donor, checks, release signature and shipment), a patient with an infused
dose and an adverse event to follow up, one with a dose dispensed to infuse, one with a
dose allocated (bags to pick) and one with a first dose to order.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from dosing import services
from dosing.models import AdverseEvent
from tests.dosing.flow import allocated, dispensed_thawed, hours, infused_thawed
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags

pytestmark = pytest.mark.django_db

SMALL, LARGER = 1, 3


def grow(n, pharmacist, clinician) -> dict:
    """`n` more units of data (module docstring); the codes of the last one's records."""
    codes = {}
    for _ in range(n):
        batch, bags = released_batch_with_bags([75_000_000] * 6)
        dose = infused_thawed(
            PatientFactory(), pharmacist, clinician, at=timezone.now() - hours(5)
        )
        services.report_adverse_event(
            dose.patient,
            actor=clinician,
            dose=dose,
            onset_at=timezone.now() - hours(4),
            description="fever",
            ctcae_grade=1,
            serious=False,
            outcome=AdverseEvent.Outcome.RECOVERING,
            causality=AdverseEvent.Causality.POSSIBLE,
        )
        dispensed_thawed(PatientFactory(), pharmacist)
        allocated(PatientFactory(), pharmacist)
        PatientFactory()
        codes = {
            "donor": batch.donor.code,
            "batch": batch.code,
            "bag": bags[-1].code,
            "patient": dose.patient.code,
        }
    return codes


# (name, who reads it, path — `{donor}` etc. filled with the latest unit's codes, limit).
ROUTES = [
    ("pharmacy worklist", "pharmacist", "/pharmacy/", 23),
    ("pharmacy worklist, searched", "pharmacist", "/pharmacy/?q={patient}", 23),
    ("ward worklist", "clinician", "/clinic/", 23),
    ("admin batch changelist", "production_user", "/admin/batches/batch/", 12),
    ("admin bag changelist", "production_user", "/admin/batches/bag/", 8),
    ("admin bag changelist, filtered", "production_user", "/admin/batches/bag/?status=issued", 8),
    ("admin audit events", "superuser", "/admin/audit/auditevent/", 10),
    ("api bags", "auditor", "/api/v1/bags/", 8),
    ("api bags of a batch", "auditor", "/api/v1/bags/?batch={batch}", 8),
    ("api batches", "auditor", "/api/v1/batches/", 10),
    ("api donors", "auditor", "/api/v1/donors/", 8),
    ("api audit events", "auditor", "/api/v1/audit-events/", 8),
    ("api doses", "auditor", "/api/v1/doses/", 10),
    ("api patients", "auditor", "/api/v1/patients/", 15),
    ("api shipments", "auditor", "/api/v1/shipments/", 10),
    ("api adverse events", "auditor", "/api/v1/adverse-events/", 8),
    ("trace of a donor", "auditor", "/api/v1/trace/donors/{donor}/", 8),
    ("trace of a batch", "auditor", "/api/v1/batches/{batch}/", 6),
    ("trace of a bag", "auditor", "/api/v1/trace/bags/{bag}/", 8),
    ("trace of a patient", "auditor", "/api/v1/trace/patients/{patient}/", 7),
]


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", "x")


@pytest.mark.parametrize(
    "role, path, limit", [route[1:] for route in ROUTES], ids=[route[0] for route in ROUTES]
)
def test_queries_do_not_grow_with_the_data(
    request, client, pharmacist, clinician, django_assert_max_num_queries, role, path, limit
):
    ProtocolFactory()
    client.force_login(request.getfixturevalue(role))
    counts = []
    for size in (SMALL, LARGER - SMALL):
        url = path.format(**grow(size, pharmacist, clinician))
        client.get(url)  # warm the session and the per-process caches
        with django_assert_max_num_queries(limit) as captured:
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
        assert response.status_code == 200, (url, response.content[:300])
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], (
        f"{path}: {counts[0]} queries at size {SMALL}, {counts[1]} at {LARGER}"
    )
