"""Issue 4 as a new user walks it, through the pharmacy and ward pages.

The pharmacy registers a 78 kg patient, sees the eligibility, orders dose 1 and sees the
whole bags of one batch proposed (~78×10⁶ cells), reserves, thaws and dispenses them; the
clinician, on a ward tablet, records the infusion and an adverse event; the pharmacy then
orders dose 2 at 36 h after the infusion (refused, the window shown) and at 72 h
(accepted, from the same batch).

Every time is typed on the pages: the order form takes "Planned for" and the infusion form
"Started at", so dose 2's 36 h and 72 h are typed relative to the infusion start the ward
recorded; nothing is back-dated through the services. Released stock and the protocol
are set up by factories (production's work, covered by the release journey).
"""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dosing.models import AdverseEvent, Dose
from tests.browser.conftest import login, shot
from tests.factories import HospitalFactory, ProtocolFactory, released_batch_with_bags

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATIENT = "SAL-P78"
FORM_TIME = "%Y-%m-%d %H:%M"  # what a date-time input holds (ISO, 24-hour)


def typed(moment):
    """A time as typed into a date-time input, in the site's time zone."""
    return timezone.localtime(moment).strftime(FORM_TIME)


def shown(moment):
    """A time as the pages show it."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def read_time(text):
    return timezone.make_aware(datetime.datetime.strptime(text, FORM_TIME))


def refusal(page):
    return page.get_by_role("alert")


def register_patient(page):
    """The registration form, as the pharmacy fills it from the ICU's notes."""
    page.get_by_role("link", name="Register a patient").first.click()
    expect(page.get_by_role("heading", name="Register a patient")).to_be_visible()
    page.get_by_label("Patient code").fill(PATIENT)
    page.get_by_label(re.compile(r"^Hospital\b")).select_option(
        label="Hospital Universitario de Salamanca"
    )
    page.get_by_label("Age (years)").fill("61")
    page.get_by_label(re.compile(r"^Sex\b")).select_option(label="Male")
    page.get_by_label("Body weight (kg)").fill("78")
    page.get_by_label("Informed consent given by the relatives").check()
    page.get_by_label("Consent date").fill(f"{timezone.localdate()}")
    page.get_by_label("AEMPS compassionate-use authorisation reference").fill("AEMPS-UC-2020-078")

    yes_no = {
        "SARS-CoV-2 confirmed by RT-PCR": "Yes",
        "Pneumonia on chest X-ray or CT": "Yes",
        "Invasive mechanical ventilation in ICU": "Yes",
        "Imaging progression > 50 % in 24–48 h": "Yes",
        "Multi-organ failure": "No",
        "Active neoplasm": "No",
        "Systemic immunosuppression before admission": "No",
    }
    for label, answer in yes_no.items():
        page.get_by_label(label).select_option(label=answer)
    values = {
        "Respiratory rate (/min)": "32",
        "SpO₂ at rest (%)": "90",
        "PaO₂/FiO₂ (mmHg)": "150",
        "SOFA score": "6",
        "WHO ordinal scale level": "6",
        "Creatinine clearance (ml/min)": "85",
        "ALT (U/l)": "45",
        "AST (U/l)": "52",
    }
    for label, value in values.items():
        page.get_by_label(label).fill(value)
    shot(page, "10-pharmacy-register-patient")
    page.get_by_role("button", name="Register and check eligibility").click()


def test_pharmacy_and_ward_give_dose_1_and_order_dose_2_in_the_window(
    page, new_page, live_server, pharmacist, clinician, password
):
    ProtocolFactory()
    HospitalFactory()  # the patient's hospital, a record of the network
    batch, _ = released_batch_with_bags([75_000_000, 75_000_000, 75_000_000, 60_000_000])

    # --- Pharmacy: register the patient, see the eligibility. --------------------------
    login(page, live_server, pharmacist.username, password)
    expect(page.get_by_role("heading", name="Pharmacy worklist")).to_be_visible()
    expect(page.locator("header nav").get_by_role("link")).to_have_text(
        ["Worklist", "Patients", "Register a patient", "Shipments", "Cohort report"]
    )
    register_patient(page)
    expect(page.get_by_role("heading", name=f"Eligibility of {PATIENT}")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Eligible: every criterion is met.")
    expect(page.get_by_text("Current weight: 78.0 kg")).to_be_visible()
    shot(page, "11-pharmacy-eligibility")

    # --- Pharmacy: order dose 1; the calculation comes before anything is reserved. ----
    page.get_by_role("link", name="Order dose 1").click()
    plan = page.locator("section.card table")
    expect(plan.get_by_role("row", name=re.compile("^Required cells"))).to_contain_text(
        "78.00×10⁶ cells"
    )
    expect(plan.get_by_role("row", name=re.compile("^Batch"))).to_contain_text(batch.code)
    proposed = plan.get_by_role("row", name=re.compile(r"^Bags proposed")).get_by_role("listitem")
    expect(proposed).to_have_count(1)
    expect(proposed).to_contain_text("75.00×10⁶ cells")
    expect(plan.get_by_role("row", name=re.compile("^Delivered dose"))).to_contain_text(
        "0.96×10⁶/kg within range"
    )
    shot(page, "12-pharmacy-order-dose-1")
    page.get_by_role("button", name="Order the dose").click()

    expect(
        page.get_by_role("heading", name=f"Allocate bags for dose {PATIENT}/D1")
    ).to_be_visible()
    page.get_by_role("button", name="Reserve these bags").click()
    expect(page.locator(".messages")).to_contain_text(f"Bags reserved for dose {PATIENT}/D1.")
    dose_1 = Dose.objects.get(patient__code=PATIENT, number=1)
    assert dose_1.batch == batch

    page.get_by_role("link", name="Dose 1: Thaw or refresh").click()
    expect(page.get_by_role("heading", name=f"Prepare dose {PATIENT}/D1")).to_be_visible()
    shot(page, "13-pharmacy-prepare")
    page.get_by_role("button", name="Record thaw now").click()
    expect(page.get_by_text("Use before:")).to_be_visible()
    shot(page, "14-pharmacy-dispense")
    page.get_by_role("button", name="Dispense to the ward").click()
    expect(page.locator(".messages")).to_contain_text(f"Dose {PATIENT}/D1 dispensed to the ward.")

    # Production releases another batch meanwhile, expiring first: first-expiry-first-out
    # would pick it for a new patient, but this patient's doses stay on their batch.
    other, _ = released_batch_with_bags([75_000_000], expires_on=datetime.date(2098, 1, 1))

    # --- Ward (tablet): record the infusion and an adverse event. ----------------------
    ward = new_page(tablet=True)
    login(ward, live_server, clinician.username, password)
    expect(ward.get_by_role("heading", name="Doses dispensed to the ward")).to_be_visible()
    row = ward.get_by_role("row", name=re.compile(PATIENT))
    expect(row).to_contain_text("75.00×10⁶ cells")
    shot(ward, "15-ward-worklist")
    row.get_by_role("link", name="Record infusion").click()

    # The bedside check comes first: a wrong wristband is refused at once, then the
    # patient's wristband and the bag's full code (a scanner types the code and Enter).
    expect(ward.get_by_role("heading", name=re.compile("Bedside check"))).to_be_visible()
    scan = ward.get_by_label("Scan or type the code")
    scan.fill("SAL-P99")
    scan.press("Enter")
    expect(ward.get_by_text(re.compile("Wrong patient")).first).to_be_visible()
    ward.get_by_label("Scan or type the code").fill(PATIENT)
    ward.get_by_label("Scan or type the code").press("Enter")
    ward.get_by_label("Scan or type the code").fill(dose_1.dose_bags.get().bag.code)
    ward.get_by_label("Scan or type the code").press("Enter")
    shot(ward, "15b-ward-bedside-check")
    ward.get_by_role("link", name="Record the infusion").click()

    # The nurse checks the bag label at the bedside against the bag code(s) shown.
    expect(ward.get_by_text("Check the bag label at the bedside against")).to_contain_text(
        dose_1.dose_bags.get().bag.code
    )
    started_at = ward.get_by_label("Started at")
    expect(started_at).to_have_value("")  # never "now": the record is made afterwards
    # The thaw was recorded "now" (the prepare page has no time field) and an infusion is
    # recorded once it has ended (an end in the future is refused), so in a test that does
    # not wait, the infusion starts and ends within the current minute.
    started = read_time(typed(timezone.now()))
    started_at.fill(typed(started))
    ward.get_by_label("Ended at").fill(typed(max(started, timezone.now())))
    ward.get_by_label("Standard 200 µm transfusion filter used").check()
    ward.get_by_label("Premedication given").fill(
        "Methylprednisolone 40 mg + dexchlorpheniramine 5 mg IV"
    )
    vitals = {
        "Heart rate before": "88",
        "Systolic BP before": "120",
        "Diastolic BP before": "70",
        "SpO₂ before": "94",
        "Temperature before": "37.1",
        "Heart rate after": "90",
        "Systolic BP after": "118",
        "Diastolic BP after": "68",
        "SpO₂ after": "95",
        "Temperature after": "37.2",
    }
    for label, value in vitals.items():
        ward.get_by_label(label).fill(value)
    ward.get_by_label("Immediate reactions").fill("None")
    shot(ward, "16-ward-infusion-form")
    ward.get_by_role("button", name="Record the infusion").click()
    expect(ward.locator(".messages")).to_contain_text(f"Infusion of dose {PATIENT}/D1 recorded.")

    # The clinician lands on the patient page (the ward worklist no longer lists the
    # dose), with the ward's own nav and no pharmacy step offered as a link.
    expect(ward.get_by_role("heading", name=f"Patient {PATIENT}")).to_be_visible()
    nav = ward.locator("header nav")
    expect(nav.get_by_role("link")).to_have_text(["Ward worklist", "Patients", "Cohort report"])
    expect(ward.get_by_text("Order dose 2")).to_be_visible()
    expect(ward.get_by_role("link", name="Order dose 2")).to_have_count(0)
    ward.get_by_role("link", name="Report an adverse event").click()
    ward.get_by_label("Dose").select_option(label=f"{PATIENT}/D1")
    ward.get_by_label("Onset at").fill(typed(started))
    ward.get_by_label("Description").fill("Transient fever 38.2 °C one hour after the infusion")
    ward.get_by_label("CTCAE grade").select_option(label="Grade 1")
    ward.get_by_label("Outcome").select_option(label="Recovered / resolved")
    ward.get_by_label("Causality").select_option(label="Possible")
    shot(ward, "17-ward-adverse-event")
    ward.get_by_role("button", name="Report").click()
    expect(ward.locator(".messages")).to_contain_text(f"Adverse event reported for {PATIENT}.")
    events = ward.locator("section.card", has=ward.get_by_role("heading", name="Adverse events"))
    expect(events).to_contain_text("Transient fever 38.2 °C")
    expect(events).to_contain_text("Possible")
    shot(ward, "18-ward-patient-after-infusion")
    assert AdverseEvent.objects.get().reported_by == clinician

    # --- Pharmacy: dose 2 at 36 h is refused with the window; at 72 h accepted. --------
    page.reload()
    page.get_by_role("link", name="Order dose 2").click()
    earliest = shown(started + datetime.timedelta(hours=48))
    latest = shown(started + datetime.timedelta(hours=96))
    window = page.get_by_text("Interval window after the previous infusion")
    expect(window).to_contain_text(earliest)
    expect(window).to_contain_text(latest)

    # From the keyboard: type the time and press Enter in the field.
    page.get_by_label("Planned for").fill(typed(started + datetime.timedelta(hours=36)))
    page.get_by_label("Planned for").press("Enter")
    expect(refusal(page)).to_contain_text("would be 36 h after dose 1")
    expect(refusal(page)).to_contain_text("allows 48–96 h")
    expect(refusal(page)).to_contain_text(f"between {earliest} and {latest}")
    shot(page, "19-pharmacy-dose-2-refused")
    assert not Dose.objects.filter(number=2).exists()

    page.get_by_label("Planned for").fill(typed(started + datetime.timedelta(hours=72)))
    page.get_by_role("button", name="Order the dose").click()
    expect(
        page.get_by_role("heading", name=f"Allocate bags for dose {PATIENT}/D2")
    ).to_be_visible()
    plan = page.locator("section.card table")
    expect(plan.get_by_role("row", name=re.compile("^Batch"))).to_contain_text(batch.code)
    expect(plan).not_to_contain_text(other.code)
    shot(page, "20-pharmacy-allocate-dose-2")
    page.get_by_role("button", name="Reserve these bags").click()
    expect(page.locator(".messages")).to_contain_text(f"Bags reserved for dose {PATIENT}/D2.")
    doses = page.locator("section.card", has=page.get_by_role("heading", name="Doses"))
    expect(doses.get_by_role("row", name=re.compile("^D2"))).to_contain_text(batch.code)
    shot(page, "21-pharmacy-patient-dose-2")

    dose_2 = Dose.objects.get(patient__code=PATIENT, number=2)
    assert dose_2.status == Dose.Status.ALLOCATED
    assert dose_2.batch == batch
    assert dose_2.planned_for == started + datetime.timedelta(hours=72)
