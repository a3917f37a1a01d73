"""The dispensing sheet: its one barcode is the dose, and it says what the ward needs."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.formatting import fmt_time
from dosing import services
from dosing.querysets import DoseQuerySet
from tests.dosing.flow import allocated, dispensed_thawed, hours
from tests.labels.reading import CODE128, DATAMATRIX, barcodes, of_format, page_texts

pytestmark = pytest.mark.django_db


def sheet_url(dose):
    return f"/pharmacy/dose/{dose.pk}/sheet.pdf"


def get_pdf(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    return response.content


def test_the_route_sits_under_pharmacy(protocol, patient, stock, pharmacist):
    dose = dispensed_thawed(patient, pharmacist)
    assert reverse("labels-sheet:dispensing-sheet", kwargs={"pk": dose.pk}) == sheet_url(dose)


def test_a_dispensed_thawed_dose_sheet(client, protocol, patient, stock, pharmacist):
    _, bags = stock
    stored = {bag.code: str(bag.location) for bag in bags}
    dose = dispensed_thawed(patient, pharmacist)
    client.force_login(pharmacist)
    content = get_pdf(client, sheet_url(dose))

    (page,) = barcodes(content)
    assert page == [(CODE128, dose.code)] and dose.code == "SAL-P07/D1"
    assert of_format(page, DATAMATRIX) == []  # the patient is scanned on the wristband

    (text,) = page_texts(content)
    link = dose.dose_bags.select_related("bag").get()
    prep = dose.preparation
    for expected in [
        "Dispensing sheet",
        "SAL-P07",
        "Hospital Universitario de Salamanca",
        "1 of at most 3",
        "78.0 kg",
        dose.batch.code,
        link.bag.code,
        stored[link.bag.code],  # the position it was picked from
        "75.00×10",  # the bag's cells (×10⁶)
        "20.0 ml",
        "0.96×10",  # cells per kg: 75 ×10⁶ / 78 kg
        "/kg",
        "Thawed (infused in the freezing medium)",
        fmt_time(prep.thawed_at),
        "Latest start of infusion",
        fmt_time(dose.use_before),
        "within 60 min of thaw",
        "Intravenous",
        "Standard 200-micron transfusion filter",
        "Steroids and dexchlorpheniramine",
        fmt_time(dose.dispensed_at),
        "Phil Macist",
        "For clinical trial / compassionate use only",
        "Times are local (Europe/Madrid)",
    ]:
        assert expected in text, expected


def test_a_refreshed_dose_sheet_shows_the_culture_and_the_harvest_limit(
    client, protocol, patient, stock, pharmacist, clinician
):
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now - hours(50))
    bag = dose.dose_bags.select_related("bag__location").get().bag
    picked = str(bag.location)
    services.record_refresh(
        dose,
        actor=pharmacist,
        thawed_at=now - hours(49),
        seeded_at=now - hours(48),
        harvested_at=now - hours(1),
        viable_cells=76_000_000,
        viability_pct=Decimal("94.0"),
        volume_ml=Decimal("50.0"),
        at=now,
    )
    dose.refresh_from_db()
    client.force_login(clinician)
    content = get_pdf(client, sheet_url(dose))
    assert barcodes(content) == [[(CODE128, dose.code)]]
    (text,) = page_texts(content)
    prep = dose.preparation
    for expected in [
        "Refreshed (re-seeded < 72 h, harvested)",
        fmt_time(prep.thawed_at),
        fmt_time(prep.seeded_at),
        fmt_time(prep.harvested_at),
        "76.00×10",
        "94.0 %",
        "50.0 ml (resuspended)",
        "Ringer's lactate + 1 % albumin",
        fmt_time(prep.harvested_at + datetime.timedelta(hours=24)),
        "within 24 h of harvest",
        "None required by the protocol",
        picked,
        "Prepared",
        "not yet",  # not dispensed yet
    ]:
        assert expected in text, expected


def test_a_dose_not_yet_prepared_has_no_sheet(client, protocol, patient, stock, pharmacist):
    dose = allocated(patient, pharmacist)
    client.force_login(pharmacist)
    response = client.get(sheet_url(dose))
    assert response.status_code == 409
    assert "printed once the dose is prepared" in response.content.decode()


def test_sheet_permissions(client, protocol, patient, stock, pharmacist, production_user, qp_user):
    dose = dispensed_thawed(patient, pharmacist)
    response = client.get(sheet_url(dose))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    for user in (production_user, qp_user):  # no business with doses
        client.force_login(user)
        assert client.get(sheet_url(dose)).status_code == 403
    client.force_login(pharmacist)
    assert client.get(f"/pharmacy/dose/{dose.pk + 1000}/sheet.pdf").status_code == 404


def test_a_dose_outside_what_the_user_may_see_is_404(
    client, protocol, patient, stock, pharmacist, monkeypatch
):
    dose = dispensed_thawed(patient, pharmacist)
    client.force_login(pharmacist)
    monkeypatch.setattr(DoseQuerySet, "scoped_to", lambda self, user: self.none())
    assert client.get(sheet_url(dose)).status_code == 404
