"""The dose's page (vital signs, custody of its bags in time order), the bag's page, the
pick lists on the allocate, prepare and dispense pages, and the adverse-event form."""

import pytest
from django.utils import timezone

from batches.models import BagEvent
from core.formatting import fmt_time
from dosing import services
from tests.dosing.flow import infused_thawed
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_dose_page_shows_vitals_before_and_after_and_the_custody_timeline_in_order(
    client, protocol, patient, stock, clinician, pharmacist, django_assert_max_num_queries
):
    dose = infused_thawed(patient, pharmacist, clinician)
    bag = dose.dose_bags.get().bag
    client.force_login(clinician)
    with django_assert_max_num_queries(14):
        page = client.get(f"/pharmacy/dose/{dose.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    vitals = {row["label"]: (row["before"], row["after"]) for row in page.context["vitals"]}
    assert vitals["Heart rate (/min)"] == (88, 90)
    assert vitals["SpO₂ (%)"] == (94, 95)
    assert "Vital sign" in html and "37.1" in html and "37.2" in html
    # After its receipt at the hospital (set-up: in transit → available), in order.
    events = list(
        BagEvent.objects.filter(bag=bag)
        .exclude(from_status="in_transit")
        .order_by("occurred_at", "pk")
    )
    assert [e.to_status for e in events] == ["reserved", "thawed", "dispensed", "infused"]
    received = [e.pk for e in page.context["events"] if e.from_status == "in_transit"]
    assert [e.pk for e in page.context["events"] if e.pk not in received] == [e.pk for e in events]
    positions = [
        html.index(fmt_time(e.occurred_at), html.index("Chain of custody")) for e in events
    ]
    assert positions == sorted(positions)


def test_bag_page_lists_its_custody_events_and_its_dose(
    client, protocol, patient, stock, clinician, pharmacist
):
    dose = infused_thawed(patient, pharmacist, clinician)
    bag = dose.dose_bags.get().bag
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/bag/{bag.code}/")
    assert page.status_code == 200
    assert [e.to_status for e in page.context["events"]][-1] == "infused"
    assert dose.code in page.content.decode()
    assert client.get("/pharmacy/bag/NOPE/").status_code == 404


def test_dose_page_of_an_unknown_dose_is_404(client, pharmacist):
    client.force_login(pharmacist)
    assert client.get("/pharmacy/dose/999999/").status_code == 404


def _position_text(bag):
    loc = bag.location
    return (
        f"tank <strong>{loc.tank}</strong> / rack <strong>{loc.rack}</strong> / "
        f"box <strong>{loc.box}</strong> / position <strong>{loc.position}</strong>"
    )


def test_allocate_prepare_and_dispense_pages_show_the_pick_list_with_positions(
    client, protocol, patient, stock, pharmacist
):
    client.force_login(pharmacist)
    dose = services.order_dose(patient, actor=pharmacist)
    page = client.get(f"/pharmacy/dose/{dose.pk}/allocate/")
    (pick,) = page.context["picks"]
    assert pick.bag.code == page.context["plan"].bag_codes[0]
    assert _position_text(pick.bag) in page.content.decode()

    services.allocate_dose(dose, actor=pharmacist)
    bag = dose.dose_bags.get().bag
    page = client.get(f"/pharmacy/dose/{dose.pk}/prepare/")
    assert "Pick list" in page.content.decode() and _position_text(bag) in page.content.decode()

    where = str(bag.location)
    services.record_thaw(dose, actor=pharmacist)
    page = client.get(f"/pharmacy/dose/{dose.pk}/dispense/")
    assert f"out of storage (taken from {where})" in page.content.decode()


def test_pick_list_orders_bags_by_tank_rack_box_position_numbers_as_numbers():
    from types import SimpleNamespace as NS

    from batches.picking import pick_list

    def bag(code, box, position):
        location = NS(
            facility_id=1, hospital_id=None, tank="1", rack="1", box=box, position=position
        )
        return NS(code=code, pk=code, location=location)

    bags = [
        bag("C", "10", "1"),
        bag("A", "2", "10"),
        bag("B", "2", "9"),
        NS(code="Z", pk="Z", location=None),
    ]
    picks = pick_list(bags)
    assert [p.bag.code for p in picks] == ["B", "A", "C", "Z"]
    assert [p.step for p in picks] == [1, 2, 3, 4]
    assert picks[-1].where == "no storage position recorded"


def test_adverse_event_form_has_no_grade_chosen_and_requires_one(
    client, protocol, patient, stock, pharmacist, clinician
):
    dose = infused_thawed(patient, pharmacist, clinician)
    client.force_login(clinician)
    url = f"/clinic/patient/{patient.code}/adverse-event/"
    html = client.get(url).content.decode()
    select = html[
        html.index('name="ctcae_grade"') : html.index(
            "</select>", html.index('name="ctcae_grade"')
        )
    ]
    assert "selected" not in select.replace('value="" selected', "")
    assert '<option value="" selected>' in select
    data = {
        "dose": dose.pk,
        "onset_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "description": "fever",
        "outcome": "recovered",
        "causality": "possible",
    }
    page = client.post(url, data)
    assert page.status_code == 200 and "ctcae_grade" in page.context["form"].errors
    assert client.post(url, {**data, "ctcae_grade": "2"}).status_code == 302


def test_patient_register_is_searchable_and_paged(client, pharmacist):
    for n in range(55):
        PatientFactory(code=f"TST-R{n:02d}", weight_kg=False, assessment=False)
    client.force_login(pharmacist)
    page = client.get("/pharmacy/patients/")
    assert len(page.context["rows"]) == 50 and page.context["page"].paginator.count == 55
    assert len(client.get("/pharmacy/patients/?page=2").context["rows"]) == 5
    assert [
        r["patient"].code for r in client.get("/pharmacy/patients/?q=r07").context["rows"]
    ] == ["TST-R07"]
