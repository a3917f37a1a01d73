"""Pharmacy and clinic pages: the issue's journey, permissions, errors kept with the form."""

import datetime

import pytest
from django.utils import timezone
from django.utils.html import escape

from audit.models import AuditEvent
from dosing.models import AdverseEvent, Dose
from tests.dosing.flow import VITALS, allocated, dispensed_thawed, infused_thawed
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def scan_through_page(client, dose):
    """The bedside check as the ward does it: the wristband, then each bag, on the page."""
    client.post(f"/clinic/dose/{dose.pk}/scan/", {"code": dose.patient.code})
    for link in dose.dose_bags.filter(live=True).select_related("bag"):
        client.post(f"/clinic/dose/{dose.pk}/scan/", {"code": link.bag.code})


def infusion_post(started_at, **extra):
    data = {
        "started_at": local(started_at),
        "ended_at": local(started_at + datetime.timedelta(minutes=20)),
        "filter_200um_confirmed": "on",
        "premedication_given": "methylprednisolone 40 mg + dexchlorpheniramine 5 mg IV",
        "immediate_reactions": "none",
        **VITALS,
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def test_journey_dose_1_to_infusion_then_dose_2_at_36_h_refused_and_72_h_same_batch(
    client, protocol, stock, pharmacist, clinician
):
    batch, _ = stock
    patient = PatientFactory(code="SAL-P78", weight_kg=78)

    # Pharmacy: the calculation is shown before anything is reserved.
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "78.00×10⁶" in html  # required cells
    assert "75.00×10⁶" in html  # one whole bag proposed
    assert "0.96×10⁶/kg" in html  # delivered dose
    assert batch.code in html
    assert not Dose.objects.exists()

    page = client.post(
        f"/pharmacy/patient/{patient.code}/order/", {"planned_for": local(timezone.now())}
    )
    dose = Dose.objects.get()
    assert page.status_code == 302 and page.url == f"/pharmacy/dose/{dose.pk}/allocate/"
    page = client.get(page.url)
    bag_code = page.context["plan"].bag_codes[0]
    assert bag_code in page.content.decode()
    page = client.post(f"/pharmacy/dose/{dose.pk}/allocate/", {"bags": bag_code})
    assert page.status_code == 302
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ALLOCATED and dose.batch == batch

    page = client.post(f"/pharmacy/dose/{dose.pk}/prepare/", {"method": "thawed"})
    assert page.url == f"/pharmacy/dose/{dose.pk}/dispense/"
    page = client.get(page.url)
    assert "Use before" in page.content.decode()
    client.post(f"/pharmacy/dose/{dose.pk}/dispense/")
    dose.refresh_from_db()
    assert dose.status == Dose.Status.DISPENSED

    # Clinician: the ward worklist, the infusion record and an adverse event.
    client.force_login(clinician)
    assert patient.code in client.get("/clinic/").content.decode()
    started = timezone.now()
    scan_through_page(client, dose)
    # The page runs in real time and an infusion is recorded once it has ended (an end in
    # the future is refused): here it started and ended within the current minute.
    page = client.post(
        f"/clinic/dose/{dose.pk}/infusion/", infusion_post(started, ended_at=local(started))
    )
    assert page.status_code == 302, page.content.decode()
    dose.refresh_from_db()
    assert dose.status == Dose.Status.INFUSED
    page = client.post(
        f"/clinic/patient/{patient.code}/adverse-event/",
        {
            "dose": dose.pk,
            "onset_at": local(timezone.now()),
            "description": "Transient fever 38.2 °C",
            "ctcae_grade": 1,
            "outcome": "recovered",
            "causality": "possible",
        },
    )
    assert page.status_code == 302, page.content.decode()
    assert AdverseEvent.objects.get().reported_by == clinician

    # Pharmacy: dose 2 at 36 h is refused with the window; at 72 h it is accepted.
    client.force_login(pharmacist)
    infused_at = dose.infusion.started_at
    page = client.post(
        f"/pharmacy/patient/{patient.code}/order/",
        {"planned_for": local(infused_at + datetime.timedelta(hours=36))},
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "allows 48–96 h" in html
    assert timezone.localtime(infused_at + datetime.timedelta(hours=48)).strftime("%H:%M") in html
    assert Dose.objects.count() == 1

    page = client.post(
        f"/pharmacy/patient/{patient.code}/order/",
        {"planned_for": local(infused_at + datetime.timedelta(hours=72))},
    )
    second = Dose.objects.get(number=2)
    page = client.get(f"/pharmacy/dose/{second.pk}/allocate/")
    proposal = page.context["plan"]
    assert proposal.batch_code == batch.code
    client.post(f"/pharmacy/dose/{second.pk}/allocate/", {"bags": ",".join(proposal.bag_codes)})
    second.refresh_from_db()
    assert second.status == Dose.Status.ALLOCATED and second.batch == batch


def test_pages_need_login_and_the_role(client, protocol, patient, outsider, clinician, auditor):
    urls = [
        "/pharmacy/",
        f"/pharmacy/patient/{patient.code}/",
        f"/pharmacy/patient/{patient.code}/order/",
        "/clinic/",
    ]
    for url in urls:
        page = client.get(url)
        assert page.status_code == 302 and page.url.startswith("/accounts/login/"), url
    client.force_login(outsider)
    for url in urls:
        assert client.get(url).status_code == 403, url
    client.force_login(clinician)
    assert client.get(f"/pharmacy/patient/{patient.code}/order/").status_code == 403
    assert client.get(f"/pharmacy/patient/{patient.code}/").status_code == 200
    client.force_login(auditor)
    assert client.get(f"/pharmacy/patient/{patient.code}/").status_code == 200
    assert client.get(f"/pharmacy/patient/{patient.code}/order/").status_code == 403
    assert client.get("/clinic/").status_code == 403


def test_infusion_form_shows_the_refusal_next_to_the_field_and_keeps_what_was_typed(
    client, protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    client.force_login(clinician)
    scan_through_page(client, dose)
    page = client.post(
        f"/clinic/dose/{dose.pk}/infusion/",
        infusion_post(
            now := timezone.now(),
            ended_at=local(now),
            premedication_given="",
            heart_rate_before=101,
        ),
    )
    html = page.content.decode()
    assert page.status_code == 200
    form = page.context["form"]
    assert "requires premedication" in form.errors["premedication_given"][0]
    assert 'value="101"' in html
    assert Dose.objects.get(pk=dose.pk).status == Dose.Status.DISPENSED


def test_infusion_form_refuses_a_dose_not_dispensed(
    client, protocol, patient, stock, pharmacist, clinician
):
    dose = allocated(patient, pharmacist)
    client.force_login(clinician)
    page = client.post(f"/clinic/dose/{dose.pk}/infusion/", infusion_post(timezone.now()))
    assert page.status_code == 200
    assert "not dispensed" in page.content.decode()


def test_allocate_page_refusal_for_an_out_of_range_choice_is_shown(
    client, protocol, patient, stock, pharmacist
):
    _, bags = stock
    client.force_login(pharmacist)
    client.post(f"/pharmacy/patient/{patient.code}/order/", {"planned_for": local(timezone.now())})
    dose = Dose.objects.get()
    page = client.post(
        f"/pharmacy/dose/{dose.pk}/allocate/",
        {"bags": f"{bags[0].code},{bags[1].code}", "override_physician": "Dr. Ruiz"},
    )
    assert page.status_code == 200
    assert "outside the acceptable range" in page.content.decode()
    assert 'value="Dr. Ruiz"' in page.content.decode()
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ORDERED


def test_worklist_lists_patients_with_their_next_step(
    client, protocol, stock, pharmacist, clinician, django_assert_max_num_queries
):
    infused_thawed(PatientFactory(code="SAL-P01"), pharmacist, clinician)
    allocated(PatientFactory(code="SAL-P02"), pharmacist)
    PatientFactory(code="SAL-P03")
    PatientFactory(code="SAL-P04", assessment={"sofa_score": 2})
    client.force_login(pharmacist)
    # 20, and one query for each notice read that vigilance registers (core.notices).
    with django_assert_max_num_queries(24):
        page = client.get("/pharmacy/")
    html = page.content.decode()
    assert "Dose 1: Thaw or refresh" in html
    assert "Order dose 2" in html
    assert "Order dose 1" in html
    assert "Complete eligibility" in html


def test_patient_page_shows_doses_bags_batch_events_and_history(
    client, protocol, patient, stock, pharmacist, clinician, django_assert_max_num_queries
):
    dose = infused_thawed(patient, pharmacist, clinician)
    client.force_login(pharmacist)
    with django_assert_max_num_queries(20):
        page = client.get(f"/pharmacy/patient/{patient.code}/")
    html = page.content.decode()
    assert dose.batch.code in html
    assert dose.dose_bags.get().bag.code in html
    assert "allocate" in html and "infused" in html  # audit actions
    assert AuditEvent.objects.filter(object_type="dosing.dose").count() == len(
        page.context["events"]
    )
    assert "Order dose 2" in html


def test_clinic_worklist_lists_dispensed_doses_with_use_before(
    client, protocol, patient, stock, pharmacist, clinician, django_assert_max_num_queries
):
    dispensed_thawed(patient, pharmacist)
    client.force_login(clinician)
    # 18, and one query for each notice read that vigilance registers (core.notices).
    with django_assert_max_num_queries(22):
        page = client.get("/clinic/")
    assert patient.code in page.content.decode()
    assert "Record infusion" in page.content.decode()


# --- what the pages show each user ----------------------------------------------------------


def test_order_page_shows_a_refusal_once(client, protocol, patient, stock, pharmacist, clinician):
    dose = infused_thawed(patient, pharmacist, clinician)
    client.force_login(pharmacist)
    page = client.post(
        f"/pharmacy/patient/{patient.code}/order/",
        {"planned_for": local(dose.infusion.started_at + datetime.timedelta(hours=36))},
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count("allows 48–96 h") == 1
    assert html.count('role="alert"') == 1
    assert "errorlist nonfield" not in html  # no second copy from form.as_div
    assert Dose.objects.count() == 1


def test_allocate_page_shows_a_refusal_once_and_fields_with_their_help(
    client, protocol, patient, stock, pharmacist
):
    _, bags = stock
    client.force_login(pharmacist)
    client.post(f"/pharmacy/patient/{patient.code}/order/", {"planned_for": local(timezone.now())})
    dose = Dose.objects.get()
    page = client.post(
        f"/pharmacy/dose/{dose.pk}/allocate/", {"bags": f"{bags[0].code},{bags[1].code}"}
    )
    html = page.content.decode()
    form = page.context["form"]
    (message,) = form.errors["override_physician"]  # next to the field it names
    assert html.count(escape(message)) == 1
    # The input points at its help text and its error (ids Django's widget refers to).
    assert 'id="id_override_physician_error"' in html
    assert 'id="id_override_physician_helptext"' in html
    assert 'aria-describedby="id_override_physician_helptext id_override_physician_error"' in html


def test_order_form_help_is_one_line_and_required_is_marked(client, protocol, patient, pharmacist):
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    html = page.content.decode()
    help_text = str(page.context["form"].fields["planned_for"].help_text)
    assert len(help_text) < 100 and "\n" not in help_text
    assert 'Planned for <span aria-hidden="true">*</span></label>' in html


def test_clinician_is_not_offered_a_pharmacy_step(
    client, protocol, patient, stock, pharmacist, clinician
):
    infused_thawed(patient, pharmacist, clinician)
    order_url = f"/pharmacy/patient/{patient.code}/order/"
    client.force_login(clinician)
    for url in ["/pharmacy/", f"/pharmacy/patient/{patient.code}/"]:
        html = client.get(url).content.decode()
        assert "Order dose 2" in html, url
        assert "(by the pharmacy)" in html, url
        assert f'href="{order_url}"' not in html, url
    assert client.get(order_url).status_code == 403  # what the link would have led to
    client.force_login(pharmacist)
    html = client.get(f"/pharmacy/patient/{patient.code}/").content.decode()
    assert f'href="{order_url}"' in html


def test_pharmacist_is_not_offered_the_ward_step(client, protocol, patient, stock, pharmacist):
    dose = dispensed_thawed(patient, pharmacist)
    client.force_login(pharmacist)
    html = client.get(f"/pharmacy/patient/{patient.code}/").content.decode()
    assert "Dose 1: Record the infusion" in html and "(by the ward)" in html
    assert f'href="/clinic/dose/{dose.pk}/infusion/"' not in html


def test_auditor_is_offered_no_step(client, protocol, patient, stock, pharmacist, auditor):
    allocated(patient, pharmacist)
    client.force_login(auditor)
    html = client.get(f"/pharmacy/patient/{patient.code}/").content.decode()
    assert "Dose 1: Thaw or refresh" in html
    assert "/prepare/" not in html


def test_infusion_page_shows_the_bag_codes_an_empty_start_and_a_vitals_grid(
    client, protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    client.force_login(clinician)
    scan_through_page(client, dose)
    page = client.get(f"/clinic/dose/{dose.pk}/infusion/")
    html = page.content.decode()
    assert page.status_code == 200
    codes = [link.bag.code for link in dose.dose_bags.filter(live=True)]
    assert codes
    for code in codes:
        assert code in html
    assert page.context["form"]["started_at"].value() is None
    assert 'name="started_at" value=' not in html
    assert '<textarea name="premedication_given"' in html
    for label in [
        "Heart rate before (/min)",
        "Systolic BP after (mmHg)",
        "Diastolic BP before (mmHg)",
        "SpO₂ after (%)",
        "Temperature before (°C)",
    ]:
        assert f'aria-label="{label}"' in html, label
    assert '<th scope="col">Before</th><th scope="col">After</th>' in html
    assert html.count("Medium:") == 1
    assert html.count("Medium: AB serum + 10 % DMSO (the freezing medium), unwashed") == 1


def test_dispense_page_names_the_medium_once(client, protocol, patient, stock, pharmacist):
    dose = allocated(patient, pharmacist)
    from dosing import services

    services.record_thaw(dose, actor=pharmacist)
    client.force_login(pharmacist)
    html = client.get(f"/pharmacy/dose/{dose.pk}/dispense/").content.decode()
    assert html.count("Medium:") == 1
    assert html.count("reezing medium") == 1


def test_after_the_infusion_the_clinician_lands_on_the_patient_page(
    client, protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    client.force_login(clinician)
    scan_through_page(client, dose)
    started = timezone.now() - datetime.timedelta(minutes=30)
    page = client.post(
        f"/clinic/dose/{dose.pk}/infusion/",
        infusion_post(started, ended_at=local(started + datetime.timedelta(minutes=20))),
    )
    assert page.status_code == 302, page.content.decode()
    assert page.url == f"/pharmacy/patient/{patient.code}/"
    html = client.get(page.url).content.decode()
    assert f"Infusion of dose {dose.code} recorded." in html
    assert f'href="/clinic/patient/{patient.code}/adverse-event/"' in html
    assert "Report an adverse event" in html


def test_each_role_has_its_own_nav(client, protocol, patient, pharmacist, clinician, auditor):
    def nav(url):
        html = client.get(url).content.decode()
        return html.split("<nav>", 1)[1].split("</nav>", 1)[0]

    client.force_login(pharmacist)
    for url in ["/pharmacy/", f"/pharmacy/patient/{patient.code}/", "/pharmacy/patients/"]:
        links = nav(url)
        assert ">Worklist</a>" in links and ">Patients</a>" in links, url
        assert ">Register a patient</a>" in links, url
        assert "Ward worklist" not in links and "Pharmacy worklist" not in links, url
    client.force_login(clinician)
    for url in ["/clinic/", f"/pharmacy/patient/{patient.code}/", "/pharmacy/patients/"]:
        links = nav(url)
        assert ">Ward worklist</a>" in links and ">Patients</a>" in links, url
        assert ">Worklist</a>" not in links and "Register" not in links, url
    client.force_login(auditor)
    links = nav(f"/pharmacy/patient/{patient.code}/")
    assert ">Worklist</a>" in links and ">Patients</a>" in links
    assert "Ward worklist" not in links and "Register" not in links


def _record(patient, kind, on):
    from patients import services as patient_services

    patient_services.record_outcome(patient, kind=kind, occurred_on=on, actor=None)


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("death", "Died on"),
        ("extubation", "Extubated on"),
        ("icu_discharge", "Discharged from the ICU on"),
    ],
)
def test_patient_page_step_after_an_ending_outcome_is_follow_up_only(
    client, protocol, patient, stock, pharmacist, clinician, kind, label
):
    infused_thawed(patient, pharmacist, clinician)
    _record(patient, kind, timezone.localdate())
    client.force_login(pharmacist)

    html = client.get(f"/pharmacy/patient/{patient.code}/").content.decode()

    assert f"{label} {timezone.localdate()}: follow-up only" in html
    assert "Complete eligibility" not in html
    assert "Order dose 2" not in html


def test_open_dose_of_a_patient_who_died_is_to_be_cancelled(
    client, protocol, patient, stock, pharmacist
):
    dose = allocated(patient, pharmacist)
    _record(patient, "death", timezone.localdate())
    client.force_login(pharmacist)

    html = client.get(f"/pharmacy/patient/{patient.code}/").content.decode()

    assert f"Dose {dose.number}: Cancel (died" in html
    assert f"/pharmacy/dose/{dose.pk}/cancel/" in html


def test_a_pharmacist_who_loses_an_allocation_race_is_told(
    client, protocol, patient, stock, pharmacist
):
    from dosing import services

    dose = services.order_dose(patient, actor=pharmacist)
    services.allocate_dose(dose, actor=pharmacist)  # the other pharmacist, first
    client.force_login(pharmacist)

    page = client.post(f"/pharmacy/dose/{dose.pk}/allocate/", {"bags": "X"}, follow=True)

    html = page.content.decode()
    assert f"Dose {dose.code} is already allocated" in html
    assert "your allocation was not recorded" in html
