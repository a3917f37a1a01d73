"""The clinical course: written by services, plausible, in time order, audited, shown."""

import datetime

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from patients import cohort_services as services
from patients.exceptions import InvalidPatientData
from patients.models import SupportPeriod
from tests.factories.patients import PatientFactory

pytestmark = pytest.mark.django_db


def _at(day, hour=10):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def test_stay_and_ventilation_recorded_with_audit_events(clinician):
    patient = PatientFactory(code="TST-C01")
    before = AuditEvent.objects.count()
    services.record_stay(patient, admitted_on=datetime.date(2020, 3, 20), actor=clinician)
    services.record_support_period(
        patient,
        kind=SupportPeriod.Kind.INVASIVE_VENTILATION,
        started_at=_at(datetime.date(2020, 3, 24)),
        actor=clinician,
    )
    assert AuditEvent.objects.count() == before + 2
    assert patient.support_periods.get().ended_at is None


def test_ventilation_before_admission_refused_and_nothing_written(clinician):
    patient = PatientFactory(code="TST-C02")
    services.record_stay(patient, admitted_on=datetime.date(2020, 3, 20), actor=clinician)
    with pytest.raises(InvalidPatientData) as refused:
        services.record_support_period(
            patient,
            kind=SupportPeriod.Kind.ECMO,
            started_at=_at(datetime.date(2020, 3, 18)),
            ended_at=_at(datetime.date(2020, 3, 17)),
            actor=clinician,
        )
    assert {"started_at", "ended_at"} <= set(refused.value.fields)
    assert not patient.support_periods.exists()


def test_future_and_before_birth_dates_refused(clinician):
    patient = PatientFactory(code="TST-C03", birth_date=datetime.date(1960, 5, 1))
    with pytest.raises(InvalidPatientData):
        services.record_xray_score(
            patient,
            taken_on=timezone.localdate() + datetime.timedelta(days=2),
            wong_score=4,
            actor=clinician,
        )
    with pytest.raises(InvalidPatientData):
        services.record_infection(
            patient,
            organism="Candida spp.",
            diagnosed_on=datetime.date(1950, 1, 1),
            actor=clinician,
        )


def test_correcting_the_admission_needs_a_reason(clinician):
    patient = PatientFactory(code="TST-C04")
    services.record_stay(patient, admitted_on=datetime.date(2020, 3, 20), actor=clinician)
    services.record_stay(
        patient,
        admitted_on=datetime.date(2020, 3, 20),
        follow_up_ended_on=datetime.date(2020, 4, 10),
        actor=clinician,
    )
    with pytest.raises(Exception, match="reason"):
        services.record_stay(patient, admitted_on=datetime.date(2020, 3, 19), actor=clinician)


def test_record_page_and_api_show_the_course(client, clinician, auditor):
    patient = PatientFactory(code="TST-C05")
    services.record_stay(patient, admitted_on=datetime.date(2020, 3, 20), actor=clinician)
    client.force_login(clinician)
    response = client.post(
        f"/clinic/patient/{patient.code}/record/",
        {"record": "xray", "xray-taken_on": "2020-03-25", "xray-wong_score": "6"},
    )
    assert response.status_code == 302
    assert patient.xrays.get().wong_score == 6
    client.force_login(auditor)
    data = client.get(f"/api/v1/patients/{patient.code}/").json()
    assert data["stay"]["admitted_on"] == "2020-03-20"
    assert data["xrays"] == [{"taken_on": "2020-03-25", "wong_score": 6}]
