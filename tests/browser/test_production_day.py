"""Issue 18 as a production technician's day in the admin: every release check of a batch
recorded on one grid (pass/fail shown while typing); a flow-cytometry file with one bad
row refused at its preview (nothing written), fixed and imported (audited with the file's
name and checksum); then the submission to the QP, which first shows the failing batch's
failures and asks for a confirmation.

Set up by factories: the facility, the specification, the assay method, two batches in
production with an eligible donor and bags (records production would not type today).
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from batches import imports, services
from batches.models import Batch, ReleaseCheck
from tests.browser.conftest import login, shot
from tests.factories import (
    BagFactory,
    BatchFactory,
    ReleaseCheckFactory,
    ReleaseSpecificationFactory,
    SpecificationItemFactory,
    add_negative_serology,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "batch code,specification item,value,unit,method/instrument,date measured\n"


@pytest.fixture
def day(system_context):
    """Two batches in production on one specification: the first has no result yet, the
    second has its sterility and viability and waits for its flow cytometry."""
    spec = ReleaseSpecificationFactory(code="AT-MSC-REL")
    items = {
        "CD73": SpecificationItemFactory(specification=spec, parameter="CD73"),
        "CD105": SpecificationItemFactory(specification=spec, parameter="CD105"),
        "Sterility": SpecificationItemFactory(
            specification=spec,
            category="sterility",
            parameter="Sterility",
            kind="expected",
            lower_limit=None,
            expected_result="negative",
            unit="",
        ),  # fmt: skip
        "Viability": SpecificationItemFactory(
            specification=spec,
            category="viability",
            parameter="Viability",
            lower_limit=Decimal("70"),
        ),  # fmt: skip
    }
    services.create_assay_method(
        actor=None, name="FACSCanto II", unit="%", reportable_min=0, reportable_max=100
    )
    batches = []
    for _ in range(2):
        batch = BatchFactory(specification=spec, status=Batch.Status.IN_PRODUCTION)
        add_negative_serology(batch.donor)
        BagFactory(batch=batch)
        BagFactory(batch=batch)
        batches.append(batch)
    second = batches[1]
    ReleaseCheckFactory(
        batch=second, item=items["Sterility"], result_value=None, result_text="negative"
    )
    ReleaseCheckFactory(batch=second, item=items["Viability"], result_value=Decimal("92"))
    return batches, items


def run_action(page, codes, action):
    for code in codes:
        page.get_by_role("checkbox", name=f"Select this object for an action - {code}").check()
    page.get_by_role("combobox", name=re.compile("^Action")).select_option(label=action)
    page.get_by_role("button", name="Go").click()


def messages(page):
    return page.locator("ul.messagelist")


def test_a_production_day_grid_import_and_a_warned_submission(
    page, live_server, production_user, password, day
):
    (first, second), items = day
    login(page, live_server, production_user.username, password)

    # --- Every check of the first batch on one grid, pass/fail shown while typing. -------
    page.get_by_role("link", name="Batches", exact=True).first.click()
    page.get_by_role("link", name=first.code).click()
    # The batch page shows no check rows of its own: the grid is where checks are.
    expect(page.locator("#checks-group")).to_have_count(0)
    page.get_by_role("link", name="Record release checks on one grid").click()
    expect(
        page.get_by_role("heading", name=f"Release checks of batch {first.code}")
    ).to_be_visible()
    grid = page.locator("#check-grid")
    expect(grid.locator("tbody tr")).to_have_count(4)
    expect(grid).to_contain_text("≥ 95")  # the criterion in full, beside the field

    typed = {"CD73": ("98.5", "Pass"), "CD105": ("90", "Fail"), "Sterility": ("negative", "Pass")}
    typed["Viability"] = ("92", "Pass")
    for parameter, (value, verdict) in typed.items():
        page.locator(f"input[name='result_{items[parameter].pk}']").fill(value)
        expect(page.locator(f"#verdict-{items[parameter].pk}")).to_have_text(verdict)
    assert not ReleaseCheck.objects.filter(batch=first).exists()  # shown before saving
    shot(page, "prodday-01-check-grid")
    page.get_by_role("button", name="Save all results").click()
    expect(messages(page)).to_contain_text(f"Batch {first.code}: 4 result(s) recorded.")
    expect(page.locator(".field-release_readiness")).to_contain_text("CD105")
    stored = {c.item.parameter: c.passed for c in first.checks.select_related("item")}
    assert stored == {"CD73": True, "CD105": False, "Sterility": True, "Viability": True}
    events = AuditEvent.objects.filter(
        object_type="batches.releasecheck",
        action="create",
        object_id__in=[str(pk) for pk in first.checks.values_list("pk", flat=True)],
    )
    assert events.count() == 4 and {e.actor for e in events} == {production_user}

    # --- The flow cytometry of the second batch, from the cytometer's file. -------------
    page.get_by_role("link", name="Batches", exact=True).first.click()
    page.get_by_role("link", name="Import results (CSV/XLSX)").click()
    bad = (
        HEADER
        + f"{second.code},CD73,99.1,%,FACSCanto II,2026-03-28\n"
        + f"{second.code},CD105,97.4,EU/mL,FACSCanto II,2026-03-28\n"
    )
    before = AuditEvent.objects.count()
    upload(page, bad)
    expect(page.locator("#preview-blocked")).to_contain_text("nothing has been written")
    expect(page.locator("#import-preview")).to_contain_text("Row 3: unit EU/mL does not match")
    expect(page.get_by_role("button", name=re.compile("^Import "))).to_have_count(0)
    shot(page, "prodday-02-import-refused")
    assert set(second.checks.values_list("item__parameter", flat=True)) == {
        "Sterility",
        "Viability",
    }
    assert AuditEvent.objects.count() == before

    good = bad.replace("97.4,EU/mL", "97.4,%")
    upload(page, good)
    preview = page.locator("#import-preview")
    expect(preview.locator("tbody tr")).to_have_count(2)
    expect(preview.locator(".check-pass")).to_have_count(2)
    expect(page.locator("#preview-blocked")).to_have_count(0)
    shot(page, "prodday-03-import-preview")
    page.get_by_role("button", name="Import 2 results").click()
    digest = imports.checksum(good.encode())
    # The file's name as it was given (quoted: the admin capitalises a message's first letter).
    expect(messages(page)).to_contain_text(
        re.compile(
            rf"File “flow-cytometry\.csv”: 2 result\(s\) recorded \(SHA-256 {digest[:16]}…\)"
        )
    )
    imported = AuditEvent.objects.filter(
        object_type="batches.releasecheck", action="create", reason__contains=digest
    )
    assert imported.count() == 2
    assert all("flow-cytometry.csv" in e.reason for e in imported)
    assert {c.item.parameter: c.result_value for c in second.checks.select_related("item")} == {
        "CD73": Decimal("99.1"),
        "CD105": Decimal("97.4"),
        "Sterility": None,
        "Viability": Decimal("92"),
    }

    # --- Both submitted to the QP: the failing batch's failures first, then a choice. ----
    row = page.locator("#result_list tbody tr").filter(has_text=first.code)
    expect(row.locator(".readiness-fails")).to_contain_text("CD105")
    expect(
        page.locator("#result_list tbody tr")
        .filter(has_text=second.code)
        .locator(".readiness-ready")
    ).to_have_text("Ready for QP")
    run_action(page, [first.code, second.code], "Submit for release (to quarantine)")
    expect(page.locator("#submit-warning")).to_be_visible()
    failing = page.get_by_role("row", name=re.compile(re.escape(first.code)))
    expect(failing).to_contain_text("CD105")
    expect(page.get_by_role("row", name=re.compile(re.escape(second.code)))).to_contain_text(
        "Ready for release"
    )
    shot(page, "prodday-04-submit-warning")
    # Nothing submitted while the technician reads the warning.
    assert set(Batch.objects.values_list("status", flat=True)) == {Batch.Status.IN_PRODUCTION}
    page.get_by_role("button", name="Submit anyway").click()
    expect(messages(page)).to_contain_text(
        f"Batch {first.code} submitted for QP release although it fails"
    )
    expect(messages(page)).to_contain_text(f"Batch {second.code} submitted for QP release.")
    shot(page, "prodday-05-submitted")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Batch.Status.QUARANTINE, Batch.Status.QUARANTINE)


def upload(page, text):
    page.get_by_label("Results file").set_input_files(
        files=[{"name": "flow-cytometry.csv", "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.get_by_role("button", name="Preview").click()
