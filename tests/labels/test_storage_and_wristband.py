"""Storage labels (rack, box, position) and the patient's wristband, read back by zxing-cpp."""

import pytest

from patients.querysets import PatientQuerySet
from tests.factories import PatientFactory, StorageLocationFactory, hospital_location
from tests.labels.reading import CODE128, DATAMATRIX, barcodes, of_format, page_texts

pytestmark = pytest.mark.django_db


def get_pdf(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    return response.content


@pytest.fixture
def box(db):
    """Positions 1, 2 and 10 of box B7 in rack R3 of tank LN2-1."""
    return [
        StorageLocationFactory(tank="LN2-1", rack="R3", box="B7", position=p)
        for p in ("10", "2", "1")
    ]


def test_a_position_label_carries_tank_rack_box_position(client, production_user, box):
    location = box[0]
    client.force_login(production_user)
    content = get_pdf(client, f"/labels/storage/{location.pk}.pdf")
    (page,) = barcodes(content)
    assert page == [(CODE128, "LN2-1/R3/B7/10")] == [(CODE128, str(location))]
    text = page_texts(content)[0]
    assert "Tank LN2-1 · Rack R3 · Box B7 · Position 10" in text


def test_a_box_gives_its_label_then_one_per_position_in_order(client, production_user, box):
    client.force_login(production_user)
    pages = barcodes(get_pdf(client, "/labels/storage/LN2-1/R3/B7.pdf"))
    assert [of_format(p, CODE128) for p in pages] == [
        ["LN2-1/R3/B7"],
        ["LN2-1/R3/B7/1"],
        ["LN2-1/R3/B7/2"],
        ["LN2-1/R3/B7/10"],
    ]


def test_a_rack_label(client, pharmacist):
    hospital_location(tank="LN2-1", rack="R3", box="B7", position="1")  # the pharmacy's tank
    client.force_login(pharmacist)
    assert barcodes(get_pdf(client, "/labels/storage/LN2-1/R3.pdf")) == [[(CODE128, "LN2-1/R3")]]


def test_storage_labels_refuse_unknown_places_and_users_without_permission(
    client, production_user, clinician, box
):
    client.force_login(production_user)
    assert client.get("/labels/storage/LN2-1/R9.pdf").status_code == 404
    assert client.get("/labels/storage/LN2-1/R3/B9.pdf").status_code == 404
    assert client.get("/labels/storage/999999.pdf").status_code == 404
    client.force_login(clinician)  # clinicians read bags, not the storage records
    assert client.get(f"/labels/storage/{box[0].pk}.pdf").status_code == 403
    client.logout()
    response = client.get(f"/labels/storage/{box[0].pk}.pdf")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_the_wristband_carries_the_patient_code_and_nothing_else(client, pharmacist):
    patient = PatientFactory(code="HGM-P12")
    client.force_login(pharmacist)
    content = get_pdf(client, f"/labels/patients/{patient.code}/wristband.pdf")
    (page,) = barcodes(content)
    # The same Code 128 at each end of the band; no other symbol.
    assert of_format(page, CODE128) == ["HGM-P12", "HGM-P12"]
    assert of_format(page, DATAMATRIX) == []
    text = page_texts(content)[0]
    assert "HGM-P12" in text and patient.hospital.name in text


@pytest.mark.parametrize("role", ["pharmacist", "clinician", "auditor"])
def test_pharmacy_and_clinicians_print_wristbands(request, client, role):
    patient = PatientFactory(code="CUN-P03")
    client.force_login(request.getfixturevalue(role))
    get_pdf(client, f"/labels/patients/{patient.code}/wristband.pdf")


def test_wristbands_are_refused_to_production_and_anonymous_and_404_when_unseen(
    client, production_user, pharmacist, monkeypatch
):
    patient = PatientFactory(code="FJD-P05")
    url = f"/labels/patients/{patient.code}/wristband.pdf"
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    client.force_login(production_user)
    assert client.get(url).status_code == 403
    client.force_login(pharmacist)
    assert client.get("/labels/patients/FJD-P99/wristband.pdf").status_code == 404
    monkeypatch.setattr(PatientQuerySet, "scoped_to", lambda self, user: self.none())
    assert client.get(url).status_code == 404
