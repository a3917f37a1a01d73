"""The pharmacy and ward worklists: what to do first, by deadline; finished apart; search;
pages; the same number of queries whatever the number of patients; notices."""

import pytest
from django.utils import timezone

from core import notices
from dosing import services
from dosing.models import AdverseEvent
from tests.dosing.flow import allocated, dispensed_thawed, hours, infused_thawed
from tests.factories import (
    ClinicalOutcomeFactory,
    PatientFactory,
    released_batch_with_bags,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock(db):
    """Enough bags of one batch for every dose these tests give (one bag per dose)."""
    return released_batch_with_bags([75_000_000] * 24)


def codes(rows):
    return [row["patient"].code for row in rows]


def test_pharmacy_worklist_puts_the_patients_with_something_to_do_first_by_deadline(
    client, protocol, stock, pharmacist, clinician
):
    now = timezone.now()
    dispensed_thawed(PatientFactory(code="TST-DISP"), pharmacist)  # use before now + ~5 min
    allocated(PatientFactory(code="TST-ALLOC"), pharmacist, at=now - hours(2))  # planned -2 h
    infused_thawed(PatientFactory(code="TST-WIN"), pharmacist, clinician, at=now - hours(60))
    PatientFactory(code="TST-NEW")  # dose 1 to order: no deadline, last
    infused_thawed(PatientFactory(code="TST-DEAD"), pharmacist, clinician, at=now - hours(10))
    ClinicalOutcomeFactory(patient__code="TST-DEAD", kind="death")
    infused_thawed(PatientFactory(code="TST-LATE"), pharmacist, clinician, at=now - hours(100))

    client.force_login(pharmacist)
    page = client.get("/pharmacy/")
    assert codes(page.context["rows"]) == ["TST-ALLOC", "TST-DISP", "TST-WIN", "TST-NEW"]
    rows = {row["patient"].code: row for row in page.context["rows"]}
    assert rows["TST-ALLOC"]["overdue"] is True
    assert rows["TST-WIN"]["deadline"] == rows["TST-WIN"]["window"][1]  # window's close
    finished = {row["patient"].code: row["reason"] for row in page.context["finished"]}
    assert finished == {"TST-DEAD": "Death", "TST-LATE": finished["TST-LATE"]}
    assert finished["TST-LATE"].startswith("Window for dose 2 closed")
    html = page.content.decode()
    assert html.index("TST-ALLOC") < html.index("TST-DISP") < html.index("Finished")
    assert html.index("Finished") < html.index("TST-DEAD")


def test_pharmacy_worklist_shows_the_bags_to_pick_with_their_storage_positions(
    client, protocol, stock, pharmacist
):
    dose = allocated(PatientFactory(code="TST-PICK"), pharmacist)
    bag = dose.dose_bags.get().bag
    client.force_login(pharmacist)
    html = client.get("/pharmacy/").content.decode()
    loc = bag.location
    assert bag.code in html
    assert f"tank <strong>{loc.tank}</strong> / rack <strong>{loc.rack}</strong>" in html
    assert f"position <strong>{loc.position}</strong>" in html


def test_all_doses_given_is_finished(client, protocol, stock, pharmacist, clinician):
    patient = PatientFactory(code="TST-ALL3")
    first = timezone.now() - hours(72) * 3
    for n in range(3):
        infused_thawed(patient, pharmacist, clinician, at=first + hours(72) * n)
    client.force_login(pharmacist)
    page = client.get("/pharmacy/")
    assert codes(page.context["rows"]) == []
    assert [r["reason"] for r in page.context["finished"]] == ["All 3 doses given"]


def test_worklist_search_by_code_and_pages(client, protocol, pharmacist):
    for n in range(30):
        PatientFactory(code=f"TST-S{n:02d}")
    PatientFactory(code="TST-X01")
    client.force_login(pharmacist)
    first = client.get("/pharmacy/")
    assert len(first.context["rows"]) == 25
    assert first.context["todo"].paginator.count == 31
    second = client.get("/pharmacy/?page=2")
    assert len(second.context["rows"]) == 6
    assert not set(codes(first.context["rows"])) & set(codes(second.context["rows"]))
    found = client.get("/pharmacy/?q=x0")
    assert codes(found.context["rows"]) == ["TST-X01"]
    assert 'value="X0"' in found.content.decode()


def _population(n, pharmacist, clinician):
    """n patients: one in each state of a dose, one finished, the rest to order."""
    now = timezone.now()
    dispensed_thawed(PatientFactory(), pharmacist)
    allocated(PatientFactory(), pharmacist)
    infused_thawed(PatientFactory(), pharmacist, clinician, at=now - hours(60))
    dead = infused_thawed(PatientFactory(), pharmacist, clinician, at=now - hours(5))
    ClinicalOutcomeFactory(patient=dead.patient, kind="death")
    services.report_adverse_event(
        dead.patient,
        actor=clinician,
        dose=dead,
        onset_at=now - hours(4),
        description="fever",
        ctcae_grade=1,
        serious=False,
        outcome=AdverseEvent.Outcome.RECOVERING,
        causality=AdverseEvent.Causality.POSSIBLE,
    )
    for _ in range(n - 4):
        PatientFactory()


@pytest.mark.parametrize("url", ["/pharmacy/", "/clinic/"])
def test_worklist_queries_do_not_grow_with_patients(
    client, protocol, stock, pharmacist, clinician, django_assert_num_queries, url
):
    user = pharmacist if url == "/pharmacy/" else clinician
    _population(4, pharmacist, clinician)
    client.force_login(user)
    client.get(url)  # warm the session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(url)
    # A "to do" list longer than its page is counted (one COUNT; a list that fits its
    # first page is not): beyond that, nothing grows with the patients.
    longer = len(small.captured_queries) + (url == "/pharmacy/")
    for _ in range(2):
        _population(30, pharmacist, clinician)
        with django_assert_num_queries(longer):
            page = client.get(url)
        assert page.status_code == 200


def test_worklist_shows_the_notices_registered_for_its_sections(client, protocol, pharmacist):
    def recalls(user, *, now):
        yield notices.Notice("Batch E0001 recalled: stop its doses", href="/x/", urgent=True)

    notices.register(notices.RECALLS, recalls)
    try:
        client.force_login(pharmacist)
        html = client.get("/pharmacy/").content.decode()
    finally:
        notices.unregister(notices.RECALLS, recalls)
    assert "Recall notices" in html and "Batch E0001 recalled" in html
    assert "Expiring stock" not in html  # an empty section is not shown


def test_unknown_notice_section_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        notices.register("nonsense", lambda user, *, now: [])


def test_ward_worklist_lists_doses_to_infuse_by_use_before_and_events_to_follow_up(
    client, protocol, stock, pharmacist, clinician
):
    now = timezone.now()
    late = dispensed_thawed(PatientFactory(code="TST-W1"), pharmacist, at=now - hours(1))
    soon = dispensed_thawed(PatientFactory(code="TST-W0"), pharmacist, at=now - hours(2) / 3)
    allocated(PatientFactory(code="TST-PH"), pharmacist)  # the pharmacy's, not the ward's
    dose = infused_thawed(PatientFactory(code="TST-AE"), pharmacist, clinician)
    services.report_adverse_event(
        dose.patient,
        actor=clinician,
        dose=dose,
        onset_at=now - hours(0.2),
        description="rash",
        ctcae_grade=2,
        serious=False,
        outcome=AdverseEvent.Outcome.NOT_RECOVERED,
        causality=AdverseEvent.Causality.POSSIBLE,
    )
    client.force_login(clinician)
    page = client.get("/clinic/")
    assert late.use_before < soon.use_before
    assert codes(page.context["rows"]) == ["TST-W1", "TST-W0", "TST-AE"]
    html = page.content.decode()
    assert "Record infusion" in html and "rash" in html
    assert "TST-PH" not in html
    assert codes(client.get("/clinic/?q=w0").context["rows"]) == ["TST-W0"]


def test_finished_patients_are_paged_by_code_without_being_counted(
    client, protocol, stock, pharmacist, clinician
):
    """The finished list is paged by code with Previous and Next, never counted: at a
    network's size nearly every patient is finished, and counting them would evaluate
    each one on every view. Both ways of being finished are listed: an outcome that ends
    dosing (never dosed), and a window closed long ago (no open dose, no recent one)."""
    for n in range(26):
        ClinicalOutcomeFactory(patient=PatientFactory(code=f"TST-F{n:02d}"), kind="death")
    infused_thawed(
        PatientFactory(code="TST-F99"), pharmacist, clinician, at=timezone.now() - hours(400)
    )
    client.force_login(pharmacist)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        first = client.get("/pharmacy/")
    done = [row["patient"].code for row in first.context["finished"]]
    assert done == [f"TST-F{n:02d}" for n in range(25)]
    html = first.content.decode()
    assert "?done=2" in html and "Page 1 of" not in html.split("done-heading")[1]
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(*)" in q["sql"].upper()]
    assert not counts  # nor the "to do" list's: it fits its first page
    second = client.get("/pharmacy/?done=2")
    assert [row["patient"].code for row in second.context["finished"]] == ["TST-F25", "TST-F99"]
    assert second.context["finished"][1]["reason"].startswith("Window for dose 2 closed")
    assert "?done=1" in second.content.decode() and "?done=3" not in second.content.decode()


@pytest.mark.parametrize("url", ["/pharmacy/", "/clinic/"])
def test_worklists_of_a_network_without_a_protocol_yet_list_its_patients(
    client, pharmacist, clinician, url
):
    """Before the first protocol is entered, the window of a next dose is unknown (null):
    PostgreSQL once refused the comparison of that bare null with the time of day."""
    PatientFactory(code="TST-N01")
    client.force_login(pharmacist if url == "/pharmacy/" else clinician)
    response = client.get(url)
    assert response.status_code == 200
    if url == "/pharmacy/":
        assert codes(response.context["rows"]) == ["TST-N01"]


def test_a_to_do_list_longer_than_a_page_is_counted_and_paged(client, protocol, pharmacist):
    """Counted only when the first page cannot hold it (`ShortListPaginator`): 26
    patients to order dose 1 for are 2 pages, the count shown with the first."""
    for n in range(26):
        PatientFactory(code=f"TST-T{n:02d}")
    client.force_login(pharmacist)
    first = client.get("/pharmacy/")
    second = client.get("/pharmacy/?page=2")
    assert first.context["todo"].paginator.count == 26
    assert "Page 1 of 2 (26 patients)" in first.content.decode()
    assert len(first.context["todo"].object_list) == 25
    assert [row["patient"].code for row in second.context["rows"]] == ["TST-T25"]
