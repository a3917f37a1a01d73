"""Issue 12's journey across the network, in the admin and the pharmacy pages.

Production of the Navarra facility (ESNAV) ships released bags to Fundación Jiménez Díaz
(FJD) and dispatches them; FJD's pharmacy receives them in range into its own storage, then
orders a dose for an FJD patient and allocates it from those bags. A second shipment
arrives with a temperature excursion: its bags are quarantined and not proposed, until
ESNAV's QP releases them with a signature; the outcome shows on both sides.

Set up by factories only what users would not type: the sites, the users and their
memberships, the protocol, released batches stored at ESNAV, the FJD patients.
"""

import datetime
import re

import pytest
from playwright.sync_api import expect

from batches.models import Bag, Shipment
from dosing.models import Dose
from tests.browser.conftest import login, shot
from tests.browser.test_release_journey import messages, run_action
from tests.conftest import role_user, totp_code
from tests.factories import (
    FacilityFactory,
    HospitalFactory,
    PatientFactory,
    ProtocolFactory,
    released_batch_with_bags,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRST = "SHP-ESNAV-FJD-0001"
SECOND = "SHP-ESNAV-FJD-0002"


def create_shipment(page, facility, hospital, bags, *, shipper, logger):
    """Production's add form: facility, hospital, the bags (by code), shipper, logger."""
    page.get_by_role("link", name="Shipments", exact=True).first.click()
    page.get_by_role("link", name="Add shipment").click()
    page.get_by_label("Facility").select_option(label=str(facility))
    page.get_by_label("Hospital").select_option(label=str(hospital))
    page.get_by_label("Bags").select_option(label=[bag.code for bag in bags])
    page.get_by_label("Dry shipper").fill(shipper)
    page.get_by_label("Temperature logger").fill(logger)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(messages(page)).to_be_visible()


def dispatch(page, code):
    page.get_by_role("link", name="Shipments", exact=True).first.click()
    run_action(page, code, "Dispatch (the shipper leaves now)")
    expect(messages(page)).to_contain_text(
        f"Shipment {code} dispatched to FJD: its bags are in transit."
    )


def receive(page, code, *, logger_result, box):
    """The pharmacy's receipt page, from its shipments list; the time is left as given."""
    page.locator("header nav").get_by_role("link", name="Shipments").click()
    expect(page.get_by_role("heading", name="Shipments", exact=True)).to_be_visible()
    page.get_by_role("row", name=re.compile(re.escape(code))).get_by_role(
        "link", name="Receive"
    ).click()
    expect(page.get_by_role("heading", name=f"Receive shipment {code}")).to_be_visible()
    page.get_by_label(logger_result, exact=True).check()
    page.get_by_label("Tank").fill("PH-1")
    page.get_by_label("Rack").fill("1")
    page.get_by_label("Box").fill(box)
    return page


def test_navarra_ships_to_fjd_which_receives_orders_and_allocates_and_the_qp_decides(
    page, new_page, live_server, password
):
    ProtocolFactory()
    esnav = FacilityFactory(
        fin="ESNAV", name="Clínica Universidad de Navarra — Unidad de Terapia Celular"
    )
    fjd = HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")
    production = role_user(
        "production-esnav", "production", esnav, first_name="Paz", last_name="Navarra"
    )
    qp_user = role_user("qp-esnav", "qp", esnav, first_name="Quique", last_name="Navarra")
    pharmacist = role_user("pharmacy-fjd", "pharmacy", fjd, first_name="Fe", last_name="Diaz")
    # Released at ESNAV and still in its tank: nothing is at FJD before a shipment.
    batch_a, bags_a = released_batch_with_bags([75_000_000] * 3, facility=esnav, hospital=None)
    # A second batch expiring first: first-expiry-first-out would propose it.
    batch_b, bags_b = released_batch_with_bags(
        [75_000_000, 75_000_000],
        facility=esnav,
        hospital=None,
        expires_on=datetime.date(2098, 1, 1),
    )
    PatientFactory(code="FJD-P01", hospital=fjd)
    PatientFactory(code="FJD-P02", hospital=fjd)

    # --- ESNAV production: a shipment of batch A's bags to FJD, dispatched. -------------
    login(page, live_server, production.username, password)
    create_shipment(page, esnav, fjd, bags_a, shipper="DS-NAV-07", logger="TL-3301")
    expect(messages(page)).to_contain_text(FIRST)
    shot(page, "40-admin-shipment-created")
    dispatch(page, FIRST)
    row = page.get_by_role("row", name=re.compile(FIRST))
    expect(row).to_contain_text("Dispatched")
    shot(page, "41-admin-shipment-dispatched")
    assert {b.status for b in Bag.objects.filter(pk__in=[b.pk for b in bags_a])} == {
        Bag.Status.IN_TRANSIT
    }

    # --- FJD pharmacy: receive it in range, into its own storage. ----------------------
    pharmacy = new_page()
    login(pharmacy, live_server, pharmacist.username, password)
    incoming = pharmacy.get_by_role("link", name="Shipments")
    expect(incoming).to_be_visible()
    receive(pharmacy, FIRST, logger_result="In range", box="A")
    expect(pharmacy.locator(".card")).to_contain_text("DS-NAV-07")
    shot(pharmacy, "42-pharmacy-receive")
    pharmacy.get_by_role("button", name="Record the receipt").click()
    expect(pharmacy.locator(".messages")).to_contain_text(
        f"Shipment {FIRST} received: 3 bags available at the pharmacy."
    )
    received = pharmacy.get_by_role("row", name=re.compile(FIRST))
    expect(received).to_contain_text("In range")
    for position, bag in enumerate(sorted(bags_a, key=lambda b: b.code), start=1):
        expect(received).to_contain_text(f"{bag.code} (PH-1/1/A/{position})")
    shot(pharmacy, "43-pharmacy-shipments-received")

    # --- FJD pharmacy: order dose 1 for FJD-P01; the bags received are proposed. -------
    pharmacy.locator("header nav").get_by_role("link", name="Worklist").click()
    pharmacy.get_by_role("row", name=re.compile("FJD-P01")).get_by_role(
        "link", name="Order dose 1"
    ).click()
    plan = pharmacy.locator("section.card table")
    expect(plan.get_by_role("row", name=re.compile("^Batch"))).to_contain_text(batch_a.code)
    proposed = plan.get_by_role("row", name=re.compile(r"^Bags proposed")).get_by_role("listitem")
    expect(proposed).to_have_count(1)
    shot(pharmacy, "44-pharmacy-order-from-shipment")
    pharmacy.get_by_role("button", name="Order the dose").click()
    expect(
        pharmacy.get_by_role("heading", name="Allocate bags for dose FJD-P01/D1")
    ).to_be_visible()
    picks = pharmacy.locator("ol.picks")
    expect(picks).to_contain_text("tank PH-1 / rack 1 / box A")
    shot(pharmacy, "45-pharmacy-allocate-from-shipment")
    pharmacy.get_by_role("button", name="Reserve these bags").click()
    expect(pharmacy.locator(".messages")).to_contain_text("Bags reserved for dose FJD-P01/D1.")
    dose = Dose.objects.get(patient__code="FJD-P01", number=1)
    assert dose.batch == batch_a
    [reserved] = [link.bag for link in dose.dose_bags.all()]
    assert reserved in bags_a
    assert reserved.location.hospital == fjd

    # --- A second shipment, batch B, arrives with a temperature excursion. -------------
    create_shipment(page, esnav, fjd, bags_b, shipper="DS-NAV-08", logger="TL-3302")
    expect(messages(page)).to_contain_text(SECOND)
    dispatch(page, SECOND)
    receive(pharmacy, SECOND, logger_result="Temperature excursion", box="B")
    pharmacy.get_by_label("Note").fill("Logger TL-3302 shows −120 °C for 40 min.")
    pharmacy.get_by_role("button", name="Record the receipt").click()
    expect(pharmacy.locator(".messages")).to_contain_text(
        f"Shipment {SECOND} received with a temperature excursion: its bags are in "
        "quarantine until the QP of ESNAV decides."
    )
    expect(pharmacy.get_by_role("row", name=re.compile(SECOND))).to_contain_text(
        "quarantined, awaiting the QP"
    )
    shot(pharmacy, "46-pharmacy-excursion-received")

    # Quarantined bags are not proposed: batch B expires first, yet batch A's bag is.
    pharmacy.locator("header nav").get_by_role("link", name="Worklist").click()
    pharmacy.get_by_role("row", name=re.compile("FJD-P02")).get_by_role(
        "link", name="Order dose 1"
    ).click()
    expect(plan.get_by_role("row", name=re.compile("^Batch"))).to_contain_text(batch_a.code)
    expect(plan).not_to_contain_text(batch_b.code)
    for bag in bags_b:
        expect(plan).not_to_contain_text(bag.code)
    shot(pharmacy, "47-pharmacy-order-excursion-not-proposed")
    order_url = pharmacy.url

    # --- ESNAV QP: decides in the admin, signed; the bags are released. -----------------
    qp = new_page()
    login(qp, live_server, qp_user.username, password)
    qp.get_by_role("link", name="Shipments", exact=True).first.click()
    run_action(qp, SECOND, "Decide on a temperature excursion (QP signature)")
    expect(
        qp.get_by_role(
            "heading", name="Bags quarantined by a temperature excursion: QP electronic signature"
        )
    ).to_be_visible()
    expect(qp.get_by_role("row", name=re.compile(SECOND))).to_contain_text(
        "TL-3302: Temperature excursion"
    )
    expect(qp.locator("#content-main")).to_contain_text("You sign as Quique Navarra")
    qp.get_by_label("Released by the QP").check()
    qp.get_by_label("Reason").fill(
        "Excursion above −150 °C for 40 min, within the validated limit."
    )
    qp.get_by_label("Password").fill(password)
    qp.get_by_label("Code from your authenticator app").fill(totp_code(qp_user))
    shot(qp, "48-admin-qp-excursion-sign")
    qp.get_by_role("button", name="Decide and sign").click()
    expect(messages(qp)).to_contain_text(
        f"Shipment {SECOND}: the quarantined bags are released, signed by Quique Navarra."
    )
    expect(qp.get_by_role("row", name=re.compile(SECOND))).to_contain_text("Released by the QP")
    shot(qp, "49-admin-excursion-released")
    shipment = Shipment.objects.get(code=SECOND)
    assert shipment.decision == Shipment.Decision.RELEASED
    assert {b.status for b in Bag.objects.filter(pk__in=[b.pk for b in bags_b])} == {
        Bag.Status.AVAILABLE
    }

    # --- FJD pharmacy: the outcome shows, and batch B is now proposed (expiring first). -
    pharmacy.locator("header nav").get_by_role("link", name="Shipments").click()
    expect(pharmacy.get_by_role("row", name=re.compile(SECOND))).to_contain_text(
        "Released by the QP"
    )
    shot(pharmacy, "50-pharmacy-excursion-outcome")
    pharmacy.goto(order_url)
    expect(plan.get_by_role("row", name=re.compile("^Batch"))).to_contain_text(batch_b.code)
    shot(pharmacy, "51-pharmacy-order-after-release")
