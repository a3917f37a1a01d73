"""The lookback lists exactly the exposed patients (infused from the batch) with their
doses, infusion dates and adverse events, every bag's whereabouts and the donor's other
batches; as a page, JSON and a CSV collection."""

import csv
import io

import pytest
from django.utils import timezone

from dosing import services as dosing
from tests.dosing.flow import hours
from tests.factories import BatchFactory, HospitalFactory
from vigilance import services

pytestmark = pytest.mark.django_db


def test_lookback_lists_exactly_the_exposed_patients(world, recall, auditor):
    data = services.lookback(recall, auditor)
    exposed = [row["patient"] for row in data["exposed_patients"]]
    assert exposed == sorted([world.infused.patient.code, world.infused_hgm.patient.code])
    row = data["exposed_patients"][0]
    assert row["doses"][0]["infused_at"] is not None
    assert {d["dose"] for d in data["stopped_doses"]} == {
        d.code for d in (world.dispensed, world.dispensed_hgm, world.prepared, world.allocated)
    }
    assert len(data["bags"]) == world.batch.bags.count()
    assert data["donor"] == world.batch.donor.code


def test_lookback_shows_the_exposed_patients_adverse_events(world, recall, clinician):
    patient = world.infused.patient
    dosing.report_adverse_event(
        patient,
        actor=clinician,
        dose=world.infused,
        onset_at=timezone.now() - hours(70),
        description="fever",
        ctcae_grade=2,
        serious=False,
        outcome="recovered",
        causality="possible",
    )
    data = services.lookback(recall, clinician)
    row = next(r for r in data["exposed_patients"] if r["patient"] == patient.code)
    assert [e["causality"] for e in row["adverse_events"]] == ["possible"]


def test_lookback_lists_the_donors_other_batches(world, recall, auditor):
    sibling = BatchFactory(donor=world.batch.donor, procurement=world.batch.procurement)
    data = services.lookback(recall, auditor)
    assert [b["batch"] for b in data["donor_other_batches"]] == [sibling.code]


def test_api_lookback_and_exposed_patients_csv(client, world, recall, auditor):
    client.force_login(auditor)
    listing = client.get("/api/v1/recalls/").json()
    assert listing["results"][0]["code"] == f"RC-{world.batch.code}"
    data = client.get(f"/api/v1/recalls/{recall.pk}/lookback/").json()
    assert len(data["exposed_patients"]) == 2
    page = client.get(f"/api/v1/recalls/{recall.pk}/exposed-patients/").json()
    assert [r["patient"] for r in page["results"]] == [
        r["patient"] for r in data["exposed_patients"]
    ]
    response = client.get(f"/api/v1/recalls/{recall.pk}/exposed-patients/?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["patient"] for r in rows) == sorted(
        [world.infused.patient.code, world.infused_hgm.patient.code]
    )
    assert all(r["first_infusion"] for r in rows)


def test_api_recalls_need_the_view_permission(client, world, recall, production_user):
    client.force_login(production_user)
    assert client.get("/api/v1/recalls/").status_code == 403
    assert client.get(f"/api/v1/recalls/{recall.pk}/lookback/").status_code == 403
    client.logout()
    assert client.get("/api/v1/recalls/").status_code in (401, 403)


def test_lookback_page_for_the_pharmacy_shows_its_own_patients(
    client, world, recall, pharmacist, make_role_user
):
    client.force_login(pharmacist)
    page = client.get(f"/vigilance/recalls/{recall.pk}/")
    assert page.status_code == 200
    content = page.content.decode()
    assert world.infused.patient.code in content
    assert world.infused_hgm.patient.code not in content
    assert world.unrelated.patient.code not in content
    assert client.get("/vigilance/recalls/999999/").status_code == 404
    client.force_login(make_role_user("pharm-hgm", "pharmacy", world.hgm))
    content = client.get(f"/vigilance/recalls/{recall.pk}/").content.decode()
    assert world.infused_hgm.patient.code in content
    assert world.infused.patient.code not in content


def test_lookback_of_a_hospital_lists_its_exposed_patients_and_bags(world, recall, make_role_user):
    reader = make_role_user("pharm-hgm", "pharmacy", world.hgm)
    data = services.lookback(recall, reader)
    assert [r["patient"] for r in data["exposed_patients"]] == [world.infused_hgm.patient.code]
    assert {d["dose"] for d in data["stopped_doses"]} == {
        world.dispensed_hgm.code,
        world.prepared.code,
    }
    assert {b["hospital"] for b in data["bags"]} == {"HGM"}


def test_a_hospital_the_recall_did_not_reach_does_not_see_it(
    client, world, recall, make_role_user
):
    other = HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")
    client.force_login(make_role_user("pharm-fjd", "pharmacy", other))
    assert client.get(f"/vigilance/recalls/{recall.pk}/").status_code == 404
    assert client.get("/api/v1/recalls/").status_code in (200, 403)


def test_the_qp_sees_the_recall_but_not_the_patients(client, world, recall, qp_user):
    client.force_login(qp_user)
    content = client.get(f"/vigilance/recalls/{recall.pk}/").content.decode()
    assert recall.code in content and "4 dose(s) not yet infused were stopped" in content
    assert world.infused.patient.code not in content
