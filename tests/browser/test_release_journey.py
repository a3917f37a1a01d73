"""Issue 2 as a new user walks it: production records a donor, a batch, its checks and bags
in the Django admin and submits it; the QP releases it with a password signature. A batch
that breaks a rule cannot be released: the QP is told why, offered no release button, and
can reject it.

Only what production would not type on day one is set up by factories: the GMP facility
and the release specification (versioned data, normally loaded once).
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from batches.models import Bag, Batch, Donor
from tests.browser.conftest import login, shot
from tests.conftest import totp_code
from tests.factories import (
    FacilityFactory,
    ReleaseSpecificationFactory,
    SpecificationItemFactory,
    make_release_ready_batch,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DIN = "E000126000042"
# The serology the donor eligibility rules require, as the admin's select shows them.
SEROLOGY_LABELS = [
    "HIV-1/2 (anti-HIV-1/2)",
    "HBV (HBsAg)",
    "HBV (anti-HBc)",
    "HCV (anti-HCV)",
    "Syphilis",
]


@pytest.fixture
def facility():
    return FacilityFactory(fin="E0001", name="GMP Unit, Hospital Universitario de Salamanca")


@pytest.fixture
def specification():
    """A small release specification: one minimum, one expected result, the viability."""
    spec = ReleaseSpecificationFactory(code="AT-MSC-REL")
    SpecificationItemFactory(
        specification=spec, category="immunophenotype", parameter="CD73", kind="min",
        lower_limit=Decimal("95"), unit="%",
    )  # fmt: skip
    SpecificationItemFactory(
        specification=spec, category="genomic", parameter="CGH array", kind="expected",
        lower_limit=None, expected_result="normal", unit="",
    )  # fmt: skip
    SpecificationItemFactory(
        specification=spec, category="viability", parameter="Viability", kind="min",
        lower_limit=Decimal("70"), unit="%",
    )  # fmt: skip
    return spec


def run_action(page, row_text, action):
    """On an admin changelist: tick the row's checkbox, choose the action, press Go."""
    page.get_by_role("checkbox", name=f"Select this object for an action - {row_text}").check()
    page.get_by_role("combobox", name=re.compile("^Action")).select_option(label=action)
    page.get_by_role("button", name="Go").click()


def messages(page):
    """The admin's message list (success, info, warning and error messages)."""
    return page.locator("ul.messagelist")


def assert_fits(page, headers, last):
    """The column headed `last` (and so every column before it) is inside the window."""
    header = page.locator(headers).filter(has_text=re.compile(rf"^\s*{last}\s*$", re.I))
    expect(header).to_be_visible()
    box = header.bounding_box()
    width = page.viewport_size["width"]
    assert box["x"] + box["width"] <= width, f"{last} column ends at {box}, window {width}"


def test_production_records_a_batch_and_the_qp_releases_it(
    page, new_page, live_server, production_user, qp_user, password, facility, specification
):
    today = timezone.localdate()

    # --- Production: the admin, a donor with consent, serology and a procurement. ------
    login(page, live_server, production_user.username, password)
    expect(page.get_by_role("heading", name="Production records")).to_be_visible()
    shot(page, "01-admin-index-production")
    page.get_by_role("link", name="Donors", exact=True).click()
    page.get_by_role("link", name="Add donor").click()

    page.get_by_label("Code").fill("ATD-901")
    page.get_by_label("Age at donation").fill("34")
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_label("Consent for clinical use").check()
    page.get_by_label("Consent signed on").fill(f"{today - datetime.timedelta(days=10)}")

    # Tabular inlines: Django's admin gives the cells no labels, only column headings, so
    # each cell is found in its row by the field name.
    for i, test in enumerate(SEROLOGY_LABELS):
        page.get_by_role("button", name="Add another Serology result").click()
        row = page.locator(f"#serology-{i}")
        row.locator("select[name$='-test']").select_option(label=test)
        row.locator("select[name$='-result']").select_option(label="Negative")
        row.locator("input[name$='-sampled_on']").fill(f"{today - datetime.timedelta(days=9)}")
    page.get_by_role("button", name="Add another Procurement").click()
    row = page.locator("#procurements-0")
    row.locator("input[name$='-procured_on']").fill(f"{today - datetime.timedelta(days=9)}")
    row.locator("input[name$='-site']").fill(
        "Hospital Universitario de Salamanca, Plastic Surgery"
    )
    row.locator("input[name$='-lipoaspirate_volume_ml']").fill("100")
    row.locator("input[name$='-fat_weight_g']").fill("50")
    row.locator("input[name$='-performed_by']").fill("Surgeon S-01")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(messages(page)).to_contain_text("ATD-901")
    assert_fits(page, "#procurements-group thead th", "Performed by")
    eligibility = page.locator("table.eligibility")
    expect(eligibility).to_be_visible()
    expect(eligibility).not_to_contain_text("not met")
    expect(eligibility).not_to_contain_text("missing")
    shot(page, "02-admin-donor-eligible")

    # --- Production: the batch, then its release checks. ---------------------------------
    page.get_by_role("link", name="Batches", exact=True).first.click()
    page.get_by_role("link", name="Add batch").click()
    page.get_by_label("DIN").fill(DIN)
    page.get_by_label("Donor").select_option(label="ATD-901")
    page.get_by_label("Procurement").select_option(index=1)
    page.get_by_label("Facility").select_option(label=str(facility))
    expect(page.get_by_label("IMPD reference")).to_have_value("PEI-15-103")
    expect(page.get_by_label("Specification")).to_have_value(str(specification.pk))
    page.get_by_label("Population doublings").fill("12.5")
    page.get_by_label("Passages").fill("1")
    page.get_by_label("Cryopreserved on").fill(f"{today - datetime.timedelta(days=2)}")
    page.get_by_label("Expires on").fill(f"{today + datetime.timedelta(days=730)}")
    # Viability is not typed on the batch: it is read from its release check, below.
    expect(page.get_by_label("Viability before cryopreservation")).to_have_count(0)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(messages(page)).to_be_visible()
    batch = Batch.objects.get(din=DIN)
    readiness = page.locator(".field-release_readiness")
    expect(readiness).to_contain_text("CD73 (≥ 95 %): no result recorded.")

    # The checks on one grid: every item of the specification a row, the result typed
    # in place, pass/fail computed (never typed).
    page.get_by_role("link", name="Record release checks on one grid").click()
    results = {"CD73": "98.5", "CGH array": "normal", "Viability": "92"}
    for parameter, value in results.items():
        page.get_by_label(parameter, exact=True).fill(value)
    page.get_by_role("button", name="Save all results").click()
    expect(messages(page)).to_contain_text(f"Batch {batch.code}: 3 result(s) recorded.")
    # What is left before release is bags and status.
    expect(readiness).not_to_contain_text("no result recorded")
    expect(readiness).to_contain_text("No bags in quarantine")
    shot(page, "03-admin-batch-checks")

    # --- Production: "Create bags", then "Submit for release". -------------------------
    page.get_by_role("link", name="Batches", exact=True).first.click()
    run_action(page, batch.code, "Create bags")
    expect(page.get_by_role("heading", name=f"Create bags for batch {batch.code}")).to_be_visible()
    page.get_by_label("Number of bags").fill("4")
    # Cells are typed in millions: the default 60 means 60 ×10⁶ cells per bag.
    expect(page.get_by_label("Cells per bag (×10⁶)")).to_have_value("60")
    page.get_by_label("Rack").fill("R1")
    page.get_by_label("Box").fill("B1")
    shot(page, "04-admin-create-bags")
    page.get_by_role("button", name="Create bags").click()
    expect(messages(page)).to_contain_text(f"4 bags created for batch {batch.code}")
    expect(messages(page)).to_contain_text("each 60 ×10⁶ cells (60,000,000 cells)")
    expect(page.locator("#bags-group tbody tr.has_original")).to_have_count(4)
    assert set(batch.bags.values_list("nominal_cells", flat=True)) == {60_000_000}

    page.get_by_role("link", name="Batches", exact=True).first.click()
    # At 1024 px with the sidebar open, the status is next to the code, and every column
    # (to the bag count) fits.
    expect(page.locator("#result_list thead th").nth(2)).to_contain_text("Status")
    assert_fits(page, "#result_list thead th", "Bags")
    shot(page, "04b-admin-batch-list")
    # Releasing is not production's to do: the action is not even offered.
    expect(page.get_by_role("option", name="Release (QP signature)")).to_have_count(0)
    expect(page.get_by_role("option", name="Submit for release (to quarantine)")).to_have_count(1)
    run_action(page, batch.code, "Submit for release (to quarantine)")
    expect(messages(page)).to_contain_text(f"Batch {batch.code} submitted for QP release.")
    page.get_by_role("link", name=batch.code).click()
    expect(page.locator("div.form-row.field-status")).to_contain_text("Quarantine")
    expect(readiness).to_contain_text("Ready for QP release.")
    shot(page, "05-admin-batch-ready")

    # --- QP: the release action, signed by re-entering the password. ------------------
    qp = new_page()
    login(qp, live_server, qp_user.username, password)
    qp.get_by_role("link", name="Batches", exact=True).first.click()
    run_action(qp, batch.code, "Release (QP signature)")
    expect(
        qp.get_by_role("heading", name="Release batches: QP electronic signature")
    ).to_be_visible()
    expect(qp.locator("#content-main")).to_contain_text("You sign as Quinn Person")
    expect(qp.get_by_role("row", name=re.compile(re.escape(batch.code)))).to_contain_text(
        "Ready for release"
    )
    expect(qp.locator("#signature-meaning")).to_contain_text("Meaning: Released")
    shot(qp, "06-admin-qp-sign")

    # The session's first signature: password and the authenticator code.
    code_field = qp.get_by_label("Code from your authenticator app")
    qp.get_by_label("Password").fill("not-my-password")
    code_field.fill(totp_code(qp_user))
    qp.get_by_role("button", name="Release and sign").click()
    expect(qp.locator(".errorlist")).to_contain_text("The password is not correct")
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.QUARANTINE

    qp.get_by_label("Password").fill(password)
    code_field.fill(totp_code(qp_user))
    qp.get_by_label("Comment").fill("All release checks within specification.")
    qp.get_by_role("button", name="Release and sign").click()
    expect(messages(qp)).to_contain_text(
        f"Batch {batch.code} released and signed by Quinn Person."
    )
    expect(qp.get_by_role("row", name=re.compile(re.escape(batch.code)))).to_contain_text(
        "Released"
    )
    qp.get_by_role("link", name=batch.code).click()
    expect(qp.locator("div.form-row.field-status")).to_contain_text("Released")
    signature = qp.locator(".field-signature_status")
    expect(signature).to_contain_text("Quinn Person")
    expect(signature).to_contain_text("✔ matches the current record")
    shot(qp, "07-admin-batch-released")

    batch.refresh_from_db()
    assert batch.status == Batch.Status.RELEASED
    assert set(batch.bags.values_list("status", flat=True)) == {Bag.Status.AVAILABLE}
    assert Donor.objects.get(code="ATD-901").batches.get() == batch


def test_a_batch_failing_a_rule_cannot_be_released_and_the_qp_sees_why(
    page, live_server, qp_user, password
):
    batch = make_release_ready_batch(passages=2)

    login(page, live_server, qp_user.username, password)
    page.get_by_role("link", name="Batches", exact=True).first.click()
    run_action(page, batch.code, "Release (QP signature)")
    row = page.get_by_role("row", name=re.compile(re.escape(batch.code)))
    expect(row).to_contain_text("Passages 2: must be fewer than 2.")
    # Nothing to sign: no password to type only to be refused, no release button.
    expect(page.locator("#release-blocked")).to_contain_text(
        f"Batch {batch.code} fails the release rules"
    )
    expect(page.get_by_role("button", name="Release and sign")).to_have_count(0)
    expect(page.get_by_label("Password")).to_have_count(0)
    shot(page, "08-admin-qp-sign-failing")

    # The batch code opens its record, to review the checks.
    expect(row.get_by_role("link", name=batch.code)).to_have_attribute(
        "href", reverse("admin:batches_batch_change", args=[batch.pk])
    )

    # Rejecting stays possible: it opens the rejection's signing page.
    page.get_by_role("button", name="Reject (QP signature)…").click()
    expect(
        page.get_by_role("heading", name="Reject batches: QP electronic signature")
    ).to_be_visible()
    expect(page.locator("#signature-meaning")).to_contain_text("Meaning: Rejected")
    page.get_by_label("Password").fill(password)
    page.get_by_label("Code from your authenticator app").fill(totp_code(qp_user))
    page.get_by_label("Reason").fill("Passages 2: outside the specification.")
    shot(page, "09-admin-qp-reject-failing")
    page.get_by_role("button", name="Reject and sign").click()
    expect(messages(page)).to_contain_text(f"Batch {batch.code} rejected and signed")
    batch.refresh_from_db()
    assert batch.status == Batch.Status.REJECTED
