"""Records are true in time (patients): dates within their floors, birth before every
clinical date, age and birth date consistent."""

import datetime

import pytest
from django.test import override_settings
from django.utils import timezone

from patients import services
from patients.exceptions import InvalidPatientData
from patients.models import Patient

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def hospital(db):
    from tests.factories.sites import HospitalFactory

    return HospitalFactory()


def register(hospital, **extra):
    values = {
        "code": "SAL-P900",
        "hospital": hospital,
        "sex": "M",
        "weight_kg": "78",
        "age_years": None,
        "actor": None,
    }
    values.update(extra)
    return services.register_patient(**values)


def _fields(excinfo):
    return set(excinfo.value.field_errors)


def test_birth_before_1900_is_refused(hospital):
    with pytest.raises(InvalidPatientData, match="before 1900-01-01") as excinfo:
        register(hospital, birth_date=datetime.date(1850, 1, 1))
    assert "birth_date" in _fields(excinfo)
    assert not Patient.objects.exists()


def test_age_that_contradicts_the_birth_date_is_refused(hospital):
    born = TODAY.replace(year=TODAY.year - 60) - datetime.timedelta(days=2)
    with pytest.raises(InvalidPatientData, match="was 60 at registration, not 45") as excinfo:
        register(hospital, birth_date=born, age_years=45)
    assert "age_years" in _fields(excinfo)

    assert register(hospital, birth_date=born, age_years=60).age_on(TODAY) == 60


@override_settings(PROGRAMME_START_DATE=datetime.date(2020, 1, 1))
def test_weight_before_the_programme_start_is_refused(hospital):
    patient = register(hospital, age_years=60)
    with pytest.raises(InvalidPatientData, match="before 2020-01-01") as excinfo:
        services.record_weight(
            patient, weight_kg="80", measured_on=datetime.date(1, 1, 1), actor=None
        )
    assert "measured_on" in _fields(excinfo)


def test_weight_at_registration_before_birth_is_refused(hospital):
    born = datetime.date(2020, 6, 1)
    with pytest.raises(InvalidPatientData, match="before the patient's birth") as excinfo:
        register(hospital, birth_date=born, weighed_on=datetime.date(2020, 5, 1))
    assert "weighed_on" in _fields(excinfo)


def test_assessment_before_birth_is_refused(hospital):
    born = datetime.date(2019, 6, 1)
    patient = register(hospital, birth_date=born, age_years=None)
    with pytest.raises(InvalidPatientData, match="before the patient's birth") as excinfo:
        services.record_assessment(
            patient, values={}, assessed_on=datetime.date(2019, 5, 1), actor=None
        )
    assert "assessed_on" in _fields(excinfo)


def test_outcome_before_the_programme_start_is_refused(hospital):
    patient = register(hospital, age_years=60)
    with pytest.raises(InvalidPatientData, match="cannot be before") as excinfo:
        services.record_outcome(
            patient, kind="death", occurred_on=datetime.date(1900, 1, 1), actor=None
        )
    assert "occurred_on" in _fields(excinfo)


def test_correcting_the_birth_date_after_the_file_s_records_is_refused(hospital):
    patient = register(hospital, age_years=60, weighed_on=TODAY - datetime.timedelta(days=10))
    with pytest.raises(InvalidPatientData, match="before this date of birth"):
        services.correct_patient(
            patient,
            changes={"birth_date": TODAY - datetime.timedelta(days=5), "age_years": None},
            actor=None,
            reason="typo",
        )
