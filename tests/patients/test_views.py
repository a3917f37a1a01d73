"""The patient pages: registration, eligibility, weight and follow-up, per role."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from patients.models import ClinicalOutcome, Observation, Patient
from tests.factories import HospitalFactory, site_member
from tests.factories.patients import ELIGIBLE_VALUES, PatientFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _registration_post(**overrides):
    data = {
        "patient-code": "SAL-P20",
        "patient-hospital": "HUS",
        "patient-age_years": "58",
        "patient-birth_date": "",
        "patient-sex": "M",
        "patient-weight_kg": "78",
        "patient-weighed_on": TODAY.isoformat(),
        "patient-consent_by_relatives": "on",
        "patient-consent_date": TODAY.isoformat(),
        "patient-compassionate_use_authorisation": "AEMPS-UC-2020-020",
        "assessment-assessed_on": TODAY.isoformat(),
    }
    for name, value in ELIGIBLE_VALUES.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        data[f"assessment-{name}"] = str(value)
    data.update(overrides)
    return data


@pytest.fixture
def patient(db):
    from audit.context import Origin, audit_context

    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        return PatientFactory(code="SAL-P01")


# --- registration ------------------------------------------------------------------------


def test_registration_redirects_to_eligibility_showing_every_criterion_met(client, pharmacist):
    client.force_login(pharmacist)
    response = client.post(reverse("patients:patient-register"), _registration_post())
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:patient-eligibility", args=["SAL-P20"])

    page = client.get(response["Location"])
    html = page.content.decode()
    assert "Eligible: every criterion is met." in html
    assert html.count('class="met">Met<') == 16
    assert "78.0 kg" in html
    patient = Patient.objects.get(code="SAL-P20")
    assert patient.current_weight().weight_kg == 78
    assert AuditEvent.objects.filter(actor=pharmacist, origin="form").count() == 3


def test_registration_with_bad_input_shows_field_errors_keeps_input_and_changes_nothing(
    client, pharmacist
):
    client.force_login(pharmacist)
    events = AuditEvent.objects.count()
    response = client.post(
        reverse("patients:patient-register"),
        _registration_post(**{"patient-weight_kg": "350", "patient-hospital": ""}),
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "hospital" in form.errors
    html = response.content.decode()
    assert 'value="SAL-P20"' in html  # typed input kept
    assert 'value="AEMPS-UC-2020-020"' in html
    assert not Patient.objects.exists()
    assert AuditEvent.objects.count() == events


def test_registration_refused_by_the_service_shows_the_message_next_to_the_field(
    client, pharmacist
):
    client.force_login(pharmacist)
    response = client.post(
        reverse("patients:patient-register"), _registration_post(**{"patient-weight_kg": "300.5"})
    )
    assert response.status_code == 200
    assert "outside 20–300 kg" in response.context["form"].errors["weight_kg"][0]
    assert 'id="id_patient-weight_kg_error"' in response.content.decode()
    assert not Patient.objects.exists()


def test_registration_of_a_duplicate_code_is_refused_on_the_code_field(
    client, pharmacist, patient
):
    client.force_login(pharmacist)
    response = client.post(
        reverse("patients:patient-register"), _registration_post(**{"patient-code": "sal-p01"})
    )
    assert "SAL-P01 is already registered" in response.context["form"].errors["code"][0]
    assert Patient.objects.count() == 1


def test_registration_with_values_not_recorded_shows_them_missing(client, pharmacist):
    client.force_login(pharmacist)
    response = client.post(
        reverse("patients:patient-register"),
        _registration_post(
            **{"assessment-sofa_score": "", "assessment-multi_organ_failure": "unknown"}
        ),
        follow=True,
    )
    html = response.content.decode()
    assert "Not eligible: 0 criterion(s) not met, 2 missing." in html
    assert html.count('class="missing">Missing<') == 2


# --- eligibility page --------------------------------------------------------------------


def test_new_assessment_from_the_eligibility_page_re_evaluates(client, pharmacist, patient):
    client.force_login(pharmacist)
    url = reverse("patients:patient-eligibility", args=[patient.code])
    data = {
        f"assessment-{k}": ("true" if v else "false") if isinstance(v, bool) else str(v)
        for k, v in ELIGIBLE_VALUES.items()
    }
    data["assessment-assessed_on"] = TODAY.isoformat()
    data["assessment-alt_u_l"] = "250"
    response = client.post(url, data, follow=True)
    html = response.content.decode()
    assert "Not eligible: 1 criterion(s) not met" in html
    assert "250 U/l" in html
    assert patient.assessments.count() == 2


def test_auditor_sees_eligibility_read_only(client, auditor, patient):
    client.force_login(auditor)
    url = reverse("patients:patient-eligibility", args=[patient.code])
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["form"] is None
    assert "Record assessment" not in response.content.decode()
    assert client.post(url, {}).status_code == 403


def test_eligibility_page_offers_order_dose_1_to_the_pharmacy_until_a_dose_exists(
    client, pharmacist, clinician, patient
):
    from dosing import services as dosing_services
    from tests.dosing.flow import allocated
    from tests.factories import ProtocolFactory, released_batch_with_bags

    url = reverse("patients:patient-eligibility", args=[patient.code])
    order = f'href="{reverse("dosing:dose-order", args=[patient.code])}"'
    client.force_login(pharmacist)
    html = client.get(url).content.decode()
    assert f'<a class="button" {order}>Order dose 1</a>' in html
    client.force_login(clinician)  # not a step the ward may take
    assert order not in client.get(url).content.decode()

    ProtocolFactory()
    released_batch_with_bags([75_000_000, 75_000_000])
    dose = allocated(patient, pharmacist)
    client.force_login(pharmacist)
    assert "Order dose 1" not in client.get(url).content.decode()
    dosing_services.cancel_dose(dose, actor=pharmacist, reason="wrong patient weight")
    assert "Order dose 1" in client.get(url).content.decode()  # a cancelled dose is no dose


def test_eligibility_page_of_a_patient_not_eligible_offers_no_order(client, pharmacist):
    ineligible = PatientFactory(code="FJD-P02", assessment={"sofa_score": 2})
    client.force_login(pharmacist)
    url = reverse("patients:patient-eligibility", args=[ineligible.code])
    assert "Order dose 1" not in client.get(url).content.decode()


def test_patient_pages_share_the_pharmacy_nav(client, pharmacist, patient):
    client.force_login(pharmacist)
    html = client.get(reverse("patients:patient-list")).content.decode()
    nav = html.split("<nav>", 1)[1].split("</nav>", 1)[0]
    assert [part.split("</a>")[0] for part in nav.split('">')[1:]] == [
        "Worklist",
        "Patients",
        "Register a patient",
        "Shipments",
        "Cohort report",
    ]


# --- weight and observations -------------------------------------------------------------


def test_pharmacist_records_a_weight(client, pharmacist, patient):
    client.force_login(pharmacist)
    url = reverse("patients:patient-weight", args=[patient.code])
    response = client.post(url, {"weight_kg": "82.5", "measured_on": TODAY.isoformat()})
    assert response.status_code == 302
    assert patient.current_weight().weight_kg == Decimal("82.5")


def test_weight_outside_limits_is_shown_next_to_the_field(client, pharmacist, patient):
    client.force_login(pharmacist)
    url = reverse("patients:patient-weight", args=[patient.code])
    response = client.post(url, {"weight_kg": "12", "measured_on": TODAY.isoformat()})
    assert response.status_code == 200
    assert "outside 20–300 kg" in response.context["form"].errors["weight_kg"][0]
    assert 'value="12"' in response.content.decode()


def test_clinician_records_an_observation_and_an_outcome(client, clinician, patient):
    client.force_login(clinician)
    url = reverse("patients:patient-observations", args=[patient.code])
    at = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        url,
        {"record": "observation", "obs-kind": "crp", "obs-value": "14.2", "obs-observed_at": at},
    )
    assert response.status_code == 302
    response = client.post(
        url,
        {
            "record": "outcome",
            "outcome-outcome_kind": "extubation",
            "outcome-occurred_on": TODAY.isoformat(),
        },
        follow=True,
    )
    html = response.content.decode()
    assert "14.2 mg/dl" in html
    assert "Extubation" in html
    assert Observation.objects.get().unit == "mg/dl"
    assert ClinicalOutcome.objects.get().kind == "extubation"


def test_clinician_cannot_register_weigh_or_assess(client, clinician, patient):
    client.force_login(clinician)
    assert client.get(reverse("patients:patient-register")).status_code == 403
    weight_url = reverse("patients:patient-weight", args=[patient.code])
    assert (
        client.post(weight_url, {"weight_kg": "80", "measured_on": "2020-01-01"}).status_code
        == 403
    )
    elig_url = reverse("patients:patient-eligibility", args=[patient.code])
    assert client.post(elig_url, {}).status_code == 403


def test_auditor_cannot_record_observations(client, auditor, patient):
    client.force_login(auditor)
    url = reverse("patients:patient-observations", args=[patient.code])
    assert client.get(url).status_code == 200
    assert client.post(url, {"record": "observation"}).status_code == 403
    assert client.post(url, {"record": "outcome"}).status_code == 403


def test_correction_page_needs_a_reason_and_shows_history(client, pharmacist, patient):
    client.force_login(pharmacist)
    url = reverse("patients:patient-correct", args=[patient.code])
    # A pharmacist of both hospitals moves the patient (and still sees them after).
    site_member(pharmacist, HospitalFactory(code="CUN", name="Clínica Universidad de Navarra"))
    data = {
        "hospital": "CUN",
        "age_years": "60",
        "sex": "M",
        "consent_by_relatives": "on",
        "consent_date": patient.consent_date.isoformat(),
        "compassionate_use_authorisation": patient.compassionate_use_authorisation,
        "reason": "",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    response = client.post(url, {**data, "reason": "wrong centre"}, follow=True)
    patient.refresh_from_db()
    assert patient.hospital.code == "CUN"
    page = client.get(url).content.decode()
    assert "wrong centre" in page


# --- permissions -------------------------------------------------------------------------

PAGES = [
    ("patients:patient-list", False),
    ("patients:patient-register", False),
    ("patients:patient-eligibility", True),
    ("patients:patient-observations", True),
    ("patients:patient-weight", True),
    ("patients:patient-correct", True),
]

EXPECTED = {
    # role fixture: pages it may GET
    "pharmacist": {name for name, _ in PAGES},
    "clinician": {
        "patients:patient-list",
        "patients:patient-eligibility",
        "patients:patient-observations",
        "patients:patient-weight",
    },
    "auditor": {
        "patients:patient-list",
        "patients:patient-eligibility",
        "patients:patient-observations",
        "patients:patient-weight",
    },
    "production_user": set(),
    "qp_user": set(),
    "outsider": set(),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize(("name", "needs_code"), PAGES)
def test_page_access_per_role(client, request, patient, role, name, needs_code):
    client.force_login(request.getfixturevalue(role))
    url = reverse(name, args=[patient.code] if needs_code else [])
    expected = 200 if name in EXPECTED[role] else 403
    assert client.get(url).status_code == expected


@pytest.mark.parametrize(("name", "needs_code"), PAGES)
def test_anonymous_is_sent_to_login(client, patient, name, needs_code):
    url = reverse(name, args=[patient.code] if needs_code else [])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_unknown_patient_code_is_404(client, pharmacist):
    client.force_login(pharmacist)
    assert client.get("/pharmacy/patients/NOPE-1/eligibility/").status_code == 404


def test_patient_list_query_count_does_not_grow_with_patients(
    client, pharmacist, system_context, django_assert_max_num_queries
):
    client.force_login(pharmacist)
    for _ in range(3):
        PatientFactory()
    # the pager's COUNT, and the reader's sites (`sites.scope.site_scope`, once per request)
    with django_assert_max_num_queries(10):
        first = client.get(reverse("patients:patient-list"))
    for _ in range(10):
        PatientFactory()
    with django_assert_max_num_queries(10):
        response = client.get(reverse("patients:patient-list"))
    assert len(response.context["rows"]) == 13 == len(first.context["rows"]) + 10
    assert response.content.decode().count("Eligible<") == 13


def test_registration_refuses_a_code_without_the_hospitals_prefix(client, pharmacist):
    client.force_login(pharmacist)
    response = client.post(
        reverse("patients:patient-register"), _registration_post(**{"patient-code": "FJD-P20"})
    )
    assert response.status_code == 200
    assert "start with SAL-" in response.context["form"].errors["code"][0]
    assert not Patient.objects.exists()


def test_registration_offers_only_the_users_hospitals_and_refuses_another_posted_by_hand(
    client, pharmacist, second_hospital
):
    client.force_login(pharmacist)
    page = client.get(reverse("patients:patient-register"))
    offered = [code for code, _label in page.context["form"].fields["hospital"].choices if code]
    assert [str(code) for code in offered] == ["HUS"]
    events = AuditEvent.objects.count()

    response = client.post(
        reverse("patients:patient-register"),
        _registration_post(**{"patient-code": "FJD-P20", "patient-hospital": "FJD"}),
    )
    assert "hospital" in response.context["form"].errors
    assert not Patient.objects.exists()
    assert AuditEvent.objects.count() == events
