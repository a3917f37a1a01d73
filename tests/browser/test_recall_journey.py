"""Issue 16 as its users walk it: the QP recalls a batch one of whose bags was infused;
the pharmacy of that hospital sees the notice and the lookback; the clinician files part
A of a serious reaction notification and signs it."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from batches.models import Batch
from dosing import services as dosing
from tests.browser.conftest import login, shot
from tests.conftest import totp_code
from tests.dosing.flow import hours, infused_thawed
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags
from vigilance.models import ReactionReport, Recall

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_recall_notice_lookback_and_part_a(
    page, new_page, live_server, qp_user, pharmacist, clinician, password
):
    ProtocolFactory()
    batch, _ = released_batch_with_bags([75_000_000] * 4)
    patient = PatientFactory(weight_kg=78)
    dose = infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(30))
    event = dosing.report_adverse_event(
        patient,
        actor=clinician,
        dose=dose,
        onset_at=timezone.now() - hours(29),
        description="anaphylactic reaction",
        ctcae_grade=4,
        serious=True,
        outcome="recovering",
        causality="possible",
    )

    # The QP recalls the batch in the admin, with a signature and a reason.
    login(page, live_server, qp_user.username, password)
    page.goto(f"{live_server.url}/admin/batches/batch/")
    page.get_by_role("checkbox", name=f"Select this object for an action - {batch.code}").check()
    page.get_by_role("combobox", name=re.compile("^Action")).select_option(
        label="Recall (QP signature)"
    )
    page.get_by_role("button", name="Go").click()
    page.get_by_label("Reason").fill("sterility test positive after release")
    page.get_by_label("Password").fill(password)
    qp_code = page.get_by_label("Code from your authenticator app")
    if qp_code.count():
        qp_code.fill(totp_code(qp_user))
    page.get_by_role("button", name="Recall and sign").click()
    expect(page.locator("ul.messagelist")).to_contain_text(f"Batch {batch.code} recalled")
    shot(page, "recall-1-qp-recalled")
    batch.refresh_from_db()
    assert batch.status == Batch.Status.RECALLED
    recall = Recall.objects.get(batch=batch)

    # The hospital's pharmacy sees the notice on its worklist and opens the lookback.
    pharmacy = new_page()
    login(pharmacy, live_server, pharmacist.username, password)
    pharmacy.goto(f"{live_server.url}/pharmacy/")
    notices = pharmacy.locator("#notices-recalls").locator("..")
    expect(notices).to_contain_text(f"Batch {batch.code} recalled ({recall.code}, HUS)")
    notices.get_by_role("link", name=re.compile(re.escape(recall.code))).first.click()
    expect(pharmacy.locator("#exposed-patients")).to_contain_text(patient.code)
    shot(pharmacy, "recall-2-pharmacy-lookback")

    # The clinician files part A of the notification from the patient's page and signs.
    ward = new_page(tablet=True)
    login(ward, live_server, clinician.username, password)
    ward.goto(f"{live_server.url}/pharmacy/patient/{patient.code}/")
    ward.get_by_role("link", name="Serious reaction notification").click()
    expect(ward.get_by_text("1 — possible")).to_be_visible()
    expect(ward.get_by_text(batch.code).first).to_be_visible()
    ward.get_by_label("Password").fill(password)
    code_field = ward.get_by_label("Code from your authenticator app")
    if code_field.count():
        code_field.fill(totp_code(clinician))
    ward.get_by_role("button", name="Submit part A and sign").click()
    expect(ward.get_by_text("part A submitted and signed")).to_be_visible()
    shot(ward, "recall-3-part-a-signed")
    report = ReactionReport.objects.get(adverse_event=event)
    assert report.part_a_signature.printed_name == clinician.get_full_name()
