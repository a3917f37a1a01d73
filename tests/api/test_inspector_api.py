"""What an inspector needs to recompute the cohort report through the API (issue 14):
protocol versions with every setting, which version each dose used, each override with
its rule, physician and reason, the eligibility kept with each dose, and assessment
values typed."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import Origin, audit_context
from dosing import services
from dosing.models import Dose, Protocol
from dosing.services import protocols
from patients.services import record_assessment
from tests.api.conftest import token_client
from tests.dosing.flow import hours
from tests.factories import (
    ELIGIBLE_VALUES,
    PatientFactory,
    ProtocolFactory,
    released_batch_with_bags,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def protocol(db):
    return ProtocolFactory()


@pytest.fixture
def stock(db):
    return released_batch_with_bags([75_000_000, 75_000_000, 75_000_000, 60_000_000])


def test_a_protocol_version_gives_every_setting_typed(auditor, protocol):
    body = token_client(auditor).get(f"/api/v1/protocols/{protocol.pk}/").json()

    for name in Protocol.SETTINGS:
        assert name in body, name
    assert body["target_cells_per_kg"] == 1_000_000
    assert body["min_cells_per_kg"] == 700_000 and body["max_cells_per_kg"] == 1_300_000
    assert body["max_doses"] == 3
    assert (body["min_interval_hours"], body["max_interval_hours"]) == (48, 96)
    assert body["assessment_max_age_days"] == 1 and body["weight_max_age_days"] == 7
    assert Decimal(body["refresh_max_expansion"]) == Decimal("4.0")
    assert body["premedication_required_for_thawed"] is True
    assert body["overrides_allowed"] is True
    assert body["effective_from"] == "2020-03-01"
    assert body["in_use"] is False


def test_protocols_list_every_version_filter_by_code_and_export_as_csv(
    auditor, protocol, pharmacist
):
    newer = protocols.create_protocol(
        actor=pharmacist, code=protocol.code, target_cells_per_kg=900_000
    )
    client = token_client(auditor)

    listed = client.get("/api/v1/protocols/", {"code": protocol.code}).json()["results"]
    none = client.get("/api/v1/protocols/", {"code": "NO-SUCH"}).json()["results"]
    csv = b"".join(client.get("/api/v1/protocols/", {"format": "csv"}).streaming_content).decode()

    assert [(p["version"], p["target_cells_per_kg"]) for p in listed] == [
        (1, 1_000_000),
        (newer.version, 900_000),
    ]
    assert none == []
    header = csv.splitlines()[0].split(",")
    assert "refresh_max_expansion" in header and "max_interval_hours" in header


def test_protocols_are_read_only_and_need_an_account(auditor, protocol):
    assert token_client(None).get("/api/v1/protocols/").status_code == 401
    client = token_client(auditor)
    assert client.post("/api/v1/protocols/", {"code": "X"}).status_code in (403, 405)
    assert client.patch(f"/api/v1/protocols/{protocol.pk}/", {"max_doses": 1}).status_code in (
        403,
        405,
    )
    protocol.refresh_from_db()
    assert protocol.max_doses == 3


@pytest.mark.parametrize("versions", [1, 6])
def test_protocols_list_query_count_does_not_grow(
    auditor, versions, django_assert_max_num_queries
):
    for version in range(1, versions + 1):
        ProtocolFactory(version=version)
    client = token_client(auditor)
    # token (2) + permissions (2) + the reader's sites (1) + the page (1).
    with django_assert_max_num_queries(7):
        response = client.get("/api/v1/protocols/")
    assert len(response.json()["results"]) == versions


def _given_dose(patient, pharmacist, **allocate):
    at = timezone.now() - hours(2)
    dose = services.order_dose(patient, actor=pharmacist, at=at)
    return services.allocate_dose(dose, actor=pharmacist, at=at, **allocate)


def test_a_dose_names_its_protocol_version_and_links_to_every_setting(
    auditor, protocol, stock, pharmacist
):
    dose = _given_dose(PatientFactory(), pharmacist)
    client = token_client(auditor)

    body = client.get(f"/api/v1/doses/{dose.pk}/").json()

    used = body["protocol_version"]
    assert (used["id"], used["code"], used["version"]) == (protocol.pk, protocol.code, 1)
    followed = client.get(used["url"]).json()
    assert followed["id"] == protocol.pk and followed["in_use"] is True


def test_a_dose_without_override_lists_none(auditor, protocol, stock, pharmacist):
    dose = _given_dose(PatientFactory(), pharmacist)
    body = token_client(auditor).get(f"/api/v1/doses/{dose.pk}/").json()
    assert body["overrides"] == []


def test_an_allocation_override_is_listed_with_its_rule_physician_and_reason(
    auditor, protocol, stock, pharmacist
):
    _, bags = stock
    dose = _given_dose(
        PatientFactory(),
        pharmacist,
        bags=bags[:2],
        override_physician="Dr. Code H12",
        override_reason="fluid-restricted, high dose wanted",
    )

    (override,) = token_client(auditor).get(f"/api/v1/doses/{dose.pk}/").json()["overrides"]

    assert override["rule"] == "dose_range"
    assert override["stage"] == "allocation"
    assert override["physician"] == "Dr. Code H12"
    assert override["reason"] == "fluid-restricted, high dose wanted"
    assert override["approved_cells"] == 150_000_000
    assert override["approved_cells_per_kg"] == round(150_000_000 / 78)
    assert override["recorded_at"] is not None and override["batch"] is None


def test_a_refresh_override_is_listed_as_given_at_preparation(
    auditor, protocol, stock, pharmacist
):
    now = timezone.now()
    patient = PatientFactory()
    dose = services.order_dose(patient, actor=pharmacist, at=now - hours(50))
    dose = services.allocate_dose(dose, actor=pharmacist, at=now - hours(50))
    services.record_refresh(
        dose,
        actor=pharmacist,
        thawed_at=now - hours(49),
        seeded_at=now - hours(48),
        harvested_at=now - hours(1),
        viable_cells=10_000_000,
        viability_pct=Decimal("40.0"),
        volume_ml=Decimal("50.0"),
        override_physician="Dr. Code H07",
        override_reason="low yield after refresh; give what there is",
        at=now,
    )

    (override,) = token_client(auditor).get(f"/api/v1/doses/{dose.pk}/").json()["overrides"]

    assert (override["rule"], override["stage"]) == ("dose_range", "preparation")
    assert override["physician"] == "Dr. Code H07"
    assert override["approved_cells"] == 10_000_000


def test_a_batch_override_after_a_recall_is_listed_with_the_batch_given(
    auditor, protocol, stock, pharmacist
):
    batch, _ = stock
    dose = _given_dose(PatientFactory(), pharmacist)
    # The fields `allocate_dose` writes on a course continued after a recall (tested in
    # tests/vigilance/test_course_after_recall.py), set here as test set-up.
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        Dose.objects.filter(pk=dose.pk).update_audited(
            batch_override_physician="Dr. Code H12",
            batch_override_reason="batch recalled mid-course",
        )

    (override,) = token_client(auditor).get(f"/api/v1/doses/{dose.pk}/").json()["overrides"]

    assert override["rule"] == "same_batch" and override["stage"] == "allocation"
    assert override["physician"] == "Dr. Code H12"
    assert override["reason"] == "batch recalled mid-course"
    assert override["batch"] == batch.code


def test_the_eligibility_kept_with_a_dose_is_the_one_at_ordering_not_todays(
    auditor, protocol, stock, pharmacist
):
    patient = PatientFactory()
    first = patient.latest_assessment()
    dose = _given_dose(patient, pharmacist)
    record_assessment(
        patient,
        values={**ELIGIBLE_VALUES, "multi_organ_failure": True},
        actor=pharmacist,
        reason="multi-organ failure since",
    )
    client = token_client(auditor)

    kept = client.get(f"/api/v1/doses/{dose.pk}/").json()["eligibility_at_order"]
    today = client.get(f"/api/v1/patients/{patient.code}/").json()["eligibility"]

    assert kept["is_eligible"] is True and kept["reconstructed"] is False
    assert kept["assessment"]["id"] == first.pk
    assert kept["assessment"]["multi_organ_failure"] is False
    assert today["is_eligible"] is False
    assert today["assessment"]["multi_organ_failure"] is True


def test_a_dose_ordered_before_the_eligibility_was_kept_says_null(
    auditor, protocol, stock, pharmacist
):
    dose = _given_dose(PatientFactory(), pharmacist)
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        Dose.objects.filter(pk=dose.pk).update_audited(eligibility_at_order=None)
    body = token_client(auditor).get(f"/api/v1/doses/{dose.pk}/").json()
    assert body["eligibility_at_order"] is None


def test_a_patients_assessments_come_typed_and_each_criterion_names_its_assessment(auditor):
    patient = PatientFactory(
        assessment={"assessed_on": timezone.localdate() - datetime.timedelta(days=1)}
    )
    latest = record_assessment(
        patient, values={**ELIGIBLE_VALUES, "sofa_score": 2}, actor=None, reason="day 2"
    )

    body = token_client(auditor).get(f"/api/v1/patients/{patient.code}/").json()

    assessments = body["assessments"]
    assert [a["id"] for a in assessments][-1] == latest.pk and len(assessments) == 2
    values = body["eligibility"]["assessment"]
    assert values["id"] == latest.pk
    assert values["sofa_score"] == 2 and isinstance(values["respiratory_rate_per_min"], int)
    assert values["pneumonia_on_imaging"] is True
    assert Decimal(values["creatinine_clearance_ml_min"]) == Decimal("85.0")
    criteria = {c["code"]: c for c in body["eligibility"]["criteria"]}
    assert criteria["sofa"]["status"] == "not_met"
    assert criteria["sofa"]["assessment_id"] == latest.pk
    assert criteria["consent"]["assessment_id"] is None
