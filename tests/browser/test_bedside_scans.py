"""Issue 13's bedside check as the ward does it, on an 800 px tablet.

Two patients have doses from one batch: their bags share the DIN, only the full bag code
tells them apart. The clinician opens the ward worklist, starts the infusion of the first
patient's dose and scans: a wrong wristband (refused), the right one, a bag of the other
patient's dose of the same batch (refused), then the right bag's label DataMatrix (as a
hand-held scanner types it: the ISBT 128 message and Enter), and records the infusion.
Both refusals are on the audit trail. No page scrolls sideways at 800 px.
"""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit.models import AuditEvent
from dosing.models import BedsideScan, Dose
from labels.isbt import bag_message, identity_of
from tests.browser.conftest import login, shot
from tests.dosing.flow import VITALS, allocated, dispensed_thawed
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORM_TIME = "%Y-%m-%d %H:%M"
VITAL_LABELS = {
    "heart_rate": "Heart rate",
    "systolic_bp": "Systolic BP",
    "diastolic_bp": "Diastolic BP",
    "spo2_pct": "SpO₂",
    "temperature_c": "Temperature",
}


def no_sideways_scroll(page):
    """Every column and button fits the viewport: the page is no wider than the screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url} is {width} px wide on a {viewport} px screen"


def scan(page, code):
    field = page.get_by_label("Scan or type the code")
    field.fill(code)
    field.press("Enter")  # what a hand-held scanner sends after the code


def test_wrong_wristband_and_a_bag_of_another_dose_refused_then_the_right_ones(
    new_page, live_server, pharmacist, clinician, password
):
    ProtocolFactory()
    released_batch_with_bags([75_000_000] * 4)
    dose = dispensed_thawed(PatientFactory(code="SAL-P01", weight_kg=75), pharmacist)
    other = allocated(PatientFactory(code="SAL-P02", weight_kg=75), pharmacist)
    bag = dose.dose_bags.get().bag
    other_bag = other.dose_bags.get().bag
    assert bag.batch_id == other_bag.batch_id and bag.code != other_bag.code

    ward = new_page(tablet=True)
    login(ward, live_server, clinician.username, password)
    expect(ward.get_by_role("heading", name="Ward worklist")).to_be_visible()
    row = ward.get_by_role("row", name=re.compile("SAL-P01"))
    expect(row).to_contain_text(timezone.localtime(dose.use_before).strftime("%Y-%m-%d %H:%M"))
    expect(ward.get_by_role("row", name=re.compile("SAL-P02"))).to_have_count(0)
    expect(row.get_by_role("link", name="Record infusion")).to_be_in_viewport()
    no_sideways_scroll(ward)
    shot(ward, "30-ward-worklist-tablet")
    row.get_by_role("link", name="Record infusion").click()

    expect(ward.get_by_role("heading", name=re.compile("Bedside check"))).to_be_visible()
    no_sideways_scroll(ward)
    scan(ward, "SAL-P02")
    expect(ward.locator(".messages")).to_contain_text("Wrong patient")
    scan(ward, "SAL-P01")
    expect(ward.locator(".messages")).to_contain_text("SAL-P01: match")
    scan(ward, other_bag.code)
    expect(ward.locator(".messages")).to_contain_text(
        f"Bag {other_bag.code} is not part of dose {dose.code}"
    )
    shot(ward, "31-ward-bag-of-another-dose-refused")
    scan(ward, bag_message(identity_of(bag)))  # the label's DataMatrix
    expect(ward.locator(".messages")).to_contain_text(f"{bag.code}: match")
    no_sideways_scroll(ward)
    shot(ward, "32-ward-bedside-check-complete")
    ward.get_by_role("link", name="Record the infusion").click()

    expect(ward.get_by_role("heading", name=f"Infusion of dose {dose.code}")).to_be_visible()
    no_sideways_scroll(ward)
    started = timezone.localtime().replace(second=0, microsecond=0)
    ward.get_by_label("Started at").fill(started.strftime(FORM_TIME))
    ward.get_by_label("Ended at").fill(started.strftime(FORM_TIME))
    ward.get_by_label("Standard 200 µm transfusion filter used").check()
    ward.get_by_label("Premedication given").fill("Methylprednisolone 40 mg IV")
    for name, value in VITALS.items():
        stem, when = name.rsplit("_", 1)
        ward.get_by_label(f"{VITAL_LABELS[stem]} {when}").fill(str(value))
    ward.get_by_role("button", name="Record the infusion").click()
    expect(ward.locator(".messages")).to_contain_text(f"Infusion of dose {dose.code} recorded.")

    # The dose's page: vital signs before and after, the bag's custody in order.
    ward.get_by_role("link", name="D1", exact=True).click()
    expect(ward.get_by_role("heading", name=f"Dose {dose.code}")).to_be_visible()
    vitals = ward.locator("table.vitals-shown")
    expect(vitals.get_by_role("row", name=re.compile("Heart rate"))).to_contain_text("88")
    expect(vitals.get_by_role("row", name=re.compile("Heart rate"))).to_contain_text("90")
    custody = ward.locator("table.timeline tbody tr")
    # received at the hospital, reserved, thawed, dispensed, infused
    expect(custody).to_have_count(5)
    expect(custody.first).to_contain_text("received")
    expect(custody.last).to_contain_text("Infused")
    no_sideways_scroll(ward)
    shot(ward, "33-ward-dose-page")

    # The adverse-event form starts with no grade chosen.
    ward.goto(f"{live_server.url}/clinic/patient/SAL-P01/adverse-event/")
    expect(ward.get_by_label("CTCAE grade")).to_have_value("")
    no_sideways_scroll(ward)

    # The trail: both refusals and both matches, with the reasons.
    dose.refresh_from_db()
    assert dose.status == Dose.Status.INFUSED
    assert dose.infusion.scanned_bag_codes == bag.code
    refused = AuditEvent.objects.filter(
        object_type="dosing.bedsidescan", action="bedside_refused"
    ).order_by("seq")
    assert [e.reason for e in refused] == [
        s.refusal and f"bedside {s.kind} scan for {dose.code} refused: {s.refusal}"
        for s in BedsideScan.objects.filter(matched=False).order_by("scanned_at", "pk")
    ]
    assert len(refused) == 2
    assert "Wrong patient" in refused[0].reason
    assert f"Bag {other_bag.code} is not part of dose" in refused[1].reason
    assert AuditEvent.objects.filter(action="bedside_match").count() == 2
