"""Issue 14 as an inspector reads it: the auditor opens the cohort report on the demo data
and finds the paper's Figure 1 — the chart, and beside it a lane per patient (13) with a
marker per dose (25) — and the figures beside the published ones."""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_cohort_report_shows_a_lane_per_patient_and_a_marker_per_dose(page, live_server):
    call_command("seed_demo", stdout=io.StringIO())
    login(page, live_server, "auditor", "celltrack-demo")

    # The charts are drawn on request (seconds each on a loaded machine): the page's text
    # is checked once its HTML is in, the chart once it has loaded.
    page.goto(f"{live_server.url}/reports/cohort/", wait_until="domcontentloaded")

    expect(page.get_by_role("heading", name="Cohort report")).to_be_visible()
    lanes = page.locator("#swimlanes tr.swimlane")
    expect(lanes).to_have_count(13)
    expect(page.locator("#swimlanes .dose-marker")).to_have_count(25)
    lane = page.locator('#swimlanes tr[data-patient="CUN-P01"]')
    expect(lane.locator(".dose-marker")).to_have_count(3)
    expect(lane).to_contain_text("Dose 1: day 0.0")
    expect(lane).to_contain_text("extubated")
    expect(page.locator("#patients tbody tr")).to_have_count(13)
    chart = page.locator("img[src*='swimlanes']")
    if chart.count():  # the charts need matplotlib
        page.wait_for_function(
            "() => [...document.images].every(img => img.complete && img.naturalWidth > 0)",
            timeout=90_000,
        )
        expect(chart).to_be_visible()
    shot(page, "cohort-report")
