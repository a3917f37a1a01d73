"""The patient services: each change is validated, atomic, and on the audit trail."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import audit_context
from audit.exceptions import ReasonRequired
from audit.history import history_for
from audit.models import AuditEvent
from patients import services
from patients.eligibility import evaluate_eligibility
from patients.exceptions import CorrectionReasonMissing, DuplicatePatientCode, InvalidPatientData
from patients.models import (
    ClinicalAssessment,
    ClinicalOutcome,
    Observation,
    Patient,
    WeightMeasurement,
)
from tests.factories import HospitalFactory
from tests.factories.patients import ELIGIBLE_VALUES, PatientFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
YESTERDAY = TODAY - datetime.timedelta(days=1)
TOMORROW = TODAY + datetime.timedelta(days=1)


def _register(actor, **overrides):
    fields = {
        "code": "SAL-P14",
        "hospital": HospitalFactory(),
        "sex": Patient.Sex.MALE,
        "age_years": 61,
        "consent_by_relatives": True,
        "consent_date": YESTERDAY,
        "compassionate_use_authorisation": "AEMPS-UC-2020-014",
        "weight_kg": Decimal("78"),
        "weighed_on": TODAY,
        "assessment": dict(ELIGIBLE_VALUES),
        "actor": actor,
    }
    return services.register_patient(**{**fields, **overrides})


def _counts():
    return (
        Patient.objects.count(),
        WeightMeasurement.objects.count(),
        ClinicalAssessment.objects.count(),
        AuditEvent.objects.count(),
    )


# --- registration ------------------------------------------------------------------------


def test_registration_creates_patient_weight_and_assessment_each_audited(pharmacist):
    patient = _register(pharmacist)

    assert patient.current_weight().weight_kg == Decimal("78.0")
    assert patient.current_weight().measured_on == TODAY
    assert evaluate_eligibility(patient).is_eligible
    for obj in (patient, patient.current_weight(), patient.latest_assessment()):
        [event] = history_for(obj)
        assert event.action == "create"
        assert event.actor == pharmacist
        assert event.reason == "patient registered"
    assert history_for(patient)[0].object_repr == "SAL-P14"
    assert history_for(patient)[0].changes["code"] == [None, "SAL-P14"]


def test_registration_upper_cases_the_code(pharmacist):
    assert _register(pharmacist, code=" sal-p15 ").code == "SAL-P15"


def test_registration_refuses_a_duplicate_code_and_writes_nothing(pharmacist):
    _register(pharmacist)
    before = _counts()
    with pytest.raises(DuplicatePatientCode, match="SAL-P14 is already registered"):
        _register(pharmacist)
    assert _counts() == before


@pytest.mark.parametrize("weight", ["19.9", "300.1", "0", "-70"])
def test_registration_refuses_a_weight_outside_20_to_300_kg(pharmacist, weight):
    before = _counts()
    with pytest.raises(InvalidPatientData) as refused:
        _register(pharmacist, weight_kg=Decimal(weight))
    assert "outside 20–300 kg" in refused.value.field_errors["weight_kg"][0]
    assert _counts() == before


@pytest.mark.parametrize("weight", ["20", "300"])
def test_registration_accepts_weights_at_the_limits(pharmacist, weight):
    assert _register(pharmacist, weight_kg=Decimal(weight)).current_weight()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"weighed_on": TOMORROW}, "measured_on"),
        ({"consent_date": TOMORROW}, "consent_date"),
        ({"birth_date": TOMORROW, "age_years": None}, "birth_date"),
        ({"assessed_on": TOMORROW}, "assessed_on"),
    ],
)
def test_registration_refuses_future_dates(pharmacist, overrides, field):
    before = _counts()
    with pytest.raises(InvalidPatientData) as refused:
        _register(pharmacist, **overrides)
    assert "future" in refused.value.field_errors[field][0]
    assert _counts() == before


def test_registration_refuses_a_name_like_code(pharmacist):
    with pytest.raises(InvalidPatientData) as refused:
        _register(pharmacist, code="Juan Pérez")
    assert "pseudonymised" in refused.value.field_errors["code"][0]


def test_registration_needs_age_or_birth_date(pharmacist):
    with pytest.raises(InvalidPatientData) as refused:
        _register(pharmacist, age_years=None, birth_date=None)
    assert refused.value.field_errors["age_years"]


def test_registration_needs_the_consent_date_when_consent_is_given(pharmacist):
    with pytest.raises(InvalidPatientData) as refused:
        _register(pharmacist, consent_date=None)
    assert "consent" in refused.value.field_errors["consent_date"][0]


def test_registration_with_an_invalid_assessment_writes_nothing(pharmacist):
    before = _counts()
    with pytest.raises(InvalidPatientData) as refused:
        _register(pharmacist, assessment={**ELIGIBLE_VALUES, "spo2_pct": Decimal("101")})
    assert "spo2_pct" in refused.value.field_errors
    assert _counts() == before


def test_registration_with_unrecorded_values_leaves_the_patient_not_eligible(pharmacist):
    patient = _register(pharmacist, assessment={"sars_cov2_rt_pcr_confirmed": True})
    result = evaluate_eligibility(patient)
    assert not result.is_eligible
    assert len(result.missing) == 11


# --- weights -----------------------------------------------------------------------------


def test_recorded_weight_becomes_the_current_weight(pharmacist, system_context):
    patient = PatientFactory()
    record = services.record_weight(patient, weight_kg="81.5", measured_on=TODAY, actor=pharmacist)
    assert patient.current_weight() == record
    [event] = history_for(record)
    assert (event.action, event.actor, event.reason) == ("create", pharmacist, "weight recorded")
    assert event.changes["weight_kg"] == [None, "81.5"]


def test_an_older_weight_entered_late_does_not_replace_the_current_one(pharmacist, system_context):
    patient = PatientFactory()
    current = patient.current_weight()
    services.record_weight(patient, weight_kg="70", measured_on=YESTERDAY, actor=pharmacist)
    assert patient.current_weight() == current


def test_patient_without_weight_has_no_current_weight(system_context):
    assert PatientFactory(weight_kg=False).current_weight() is None


@pytest.mark.parametrize(
    ("weight", "measured_on"), [("350", TODAY), ("15", TODAY), ("80", TOMORROW)]
)
def test_record_weight_refuses_implausible_weight_or_future_date(
    pharmacist, system_context, weight, measured_on
):
    patient = PatientFactory()
    before = _counts()
    with pytest.raises(InvalidPatientData):
        services.record_weight(
            patient, weight_kg=weight, measured_on=measured_on, actor=pharmacist
        )
    assert _counts() == before


# --- assessments -------------------------------------------------------------------------


def test_a_new_assessment_supersedes_the_previous_one_for_eligibility(pharmacist, system_context):
    patient = PatientFactory()
    assert evaluate_eligibility(patient).is_eligible
    record = services.record_assessment(
        patient,
        values={**ELIGIBLE_VALUES, "multi_organ_failure": True},
        assessed_on=TODAY,
        actor=pharmacist,
    )
    result = evaluate_eligibility(patient)
    assert not result.is_eligible
    assert [c.code for c in result.not_met] == ["no_multi_organ_failure"]
    assert patient.assessments.count() == 2
    [event] = history_for(record)
    assert (event.action, event.actor) == ("create", pharmacist)
    assert event.changes["multi_organ_failure"] == [None, True]


def test_record_assessment_refuses_unknown_values(pharmacist, system_context):
    patient = PatientFactory()
    with pytest.raises(InvalidPatientData, match="Unknown assessment values: name"):
        services.record_assessment(patient, values={"name": "x"}, actor=pharmacist)


def test_correcting_an_assessment_needs_a_reason_and_keeps_the_old_value(
    pharmacist, system_context
):
    patient = PatientFactory()
    assessment = patient.latest_assessment()
    with pytest.raises(CorrectionReasonMissing):
        services.correct_assessment(
            assessment, changes={"sofa_score": 2}, actor=pharmacist, reason=" "
        )
    services.correct_assessment(
        assessment,
        changes={"sofa_score": 2},
        actor=pharmacist,
        reason="SOFA transcribed from the wrong day",
    )
    assert not evaluate_eligibility(patient).is_eligible
    event = history_for(assessment).last()
    assert event.action == "correct"
    assert event.changes == {"sofa_score": [6, 2]}
    assert event.reason == "SOFA transcribed from the wrong day"


def test_saving_a_stored_record_without_a_reason_is_refused_by_the_audit_trail(
    pharmacist, system_context
):
    weight = PatientFactory().current_weight()
    weight.weight_kg = Decimal("90")
    with audit_context(actor=pharmacist, reason=""), pytest.raises(ReasonRequired):
        weight.save()


# --- observations and outcomes -----------------------------------------------------------


def test_record_observation_uses_the_unit_of_its_kind(clinician, system_context):
    patient = PatientFactory()
    at = timezone.now() - datetime.timedelta(hours=2)
    record = services.record_observation(
        patient, kind=Observation.Kind.IL6, value="182.4", observed_at=at, actor=clinician
    )
    assert record.unit == "pg/ml"
    [event] = history_for(record)
    assert (event.action, event.actor, event.reason) == (
        "create",
        clinician,
        "observation recorded",
    )
    assert event.changes["kind"] == [None, "il6"]


@pytest.mark.parametrize(
    ("kind", "value", "unit", "field"),
    [
        (Observation.Kind.CRP, "12", "mg/l", "unit"),
        (Observation.Kind.WHO_SCALE, "5.5", "", "value"),
        (Observation.Kind.WHO_SCALE, "9", "", "value"),
        (Observation.Kind.LDH, "-1", "", "value"),
        ("troponin", "1", "ng/l", "kind"),
    ],
)
def test_record_observation_refuses_wrong_units_and_impossible_values(
    clinician, system_context, kind, value, unit, field
):
    patient = PatientFactory()
    before = Observation.objects.count()
    with pytest.raises(InvalidPatientData) as refused:
        services.record_observation(
            patient,
            kind=kind,
            value=value,
            unit=unit,
            observed_at=timezone.now(),
            actor=clinician,
        )
    assert field in refused.value.field_errors
    assert Observation.objects.count() == before


def test_record_observation_refuses_a_future_time(clinician, system_context):
    with pytest.raises(InvalidPatientData, match="future"):
        services.record_observation(
            PatientFactory(),
            kind=Observation.Kind.CRP,
            value="3",
            observed_at=timezone.now() + datetime.timedelta(days=1),
            actor=clinician,
        )


def test_record_outcome_is_audited(clinician, system_context):
    record = services.record_outcome(
        PatientFactory(), kind=ClinicalOutcome.Kind.EXTUBATION, occurred_on=TODAY, actor=clinician
    )
    [event] = history_for(record)
    assert (event.action, event.actor) == ("create", clinician)


def test_no_outcome_after_a_recorded_death_and_no_second_death(clinician, system_context):
    patient = PatientFactory()
    services.record_outcome(
        patient, kind=ClinicalOutcome.Kind.DEATH, occurred_on=YESTERDAY, actor=clinician
    )
    with pytest.raises(InvalidPatientData, match="already recorded"):
        services.record_outcome(
            patient, kind=ClinicalOutcome.Kind.DEATH, occurred_on=TODAY, actor=clinician
        )
    with pytest.raises(InvalidPatientData, match="no outcome can follow"):
        services.record_outcome(
            patient, kind=ClinicalOutcome.Kind.EXTUBATION, occurred_on=TODAY, actor=clinician
        )
    assert patient.outcomes.count() == 1


def test_death_cannot_be_dated_before_a_recorded_extubation(clinician, system_context):
    patient = PatientFactory()
    services.record_outcome(
        patient, kind=ClinicalOutcome.Kind.EXTUBATION, occurred_on=TODAY, actor=clinician
    )
    with pytest.raises(InvalidPatientData, match="check the date of death"):
        services.record_outcome(
            patient, kind=ClinicalOutcome.Kind.DEATH, occurred_on=YESTERDAY, actor=clinician
        )


# --- corrections -------------------------------------------------------------------------


def test_correct_patient_records_before_after_and_reason(pharmacist, system_context):
    patient = PatientFactory(hospital=HospitalFactory())
    patient_before_hospital_id = patient.hospital_id
    navarra = HospitalFactory(code="CUN", name="Clínica Universidad de Navarra")
    services.correct_patient(
        patient,
        changes={"hospital": navarra},
        actor=pharmacist,
        reason="registered under the wrong centre",
    )
    patient.refresh_from_db()
    assert patient.hospital == navarra
    event = history_for(patient).last()
    assert event.action == "correct"
    assert event.actor == pharmacist
    assert event.changes == {"hospital_id": [patient_before_hospital_id, navarra.pk]}
    assert event.reason == "registered under the wrong centre"


def test_correct_patient_refuses_without_a_reason(pharmacist, system_context):
    patient = PatientFactory()
    before = _counts()
    with pytest.raises(CorrectionReasonMissing, match="written reason"):
        services.correct_patient(
            patient, changes={"sex": Patient.Sex.FEMALE}, actor=pharmacist, reason=""
        )
    assert _counts() == before


def test_correct_patient_never_rewrites_the_code(pharmacist, system_context):
    patient = PatientFactory()
    with pytest.raises(InvalidPatientData, match="cannot be corrected: code"):
        services.correct_patient(
            patient, changes={"code": "OTHER-1"}, actor=pharmacist, reason="typo"
        )


def test_correct_patient_refuses_removing_both_age_and_birth_date(pharmacist, system_context):
    patient = PatientFactory()
    with pytest.raises(InvalidPatientData):
        services.correct_patient(
            patient,
            changes={"age_years": None, "birth_date": None},
            actor=pharmacist,
            reason="unknown",
        )
    patient.refresh_from_db()
    assert patient.age_years == 60


def test_a_correction_that_changes_nothing_writes_no_event(pharmacist, system_context):
    patient = PatientFactory()
    before = AuditEvent.objects.count()
    services.correct_patient(
        patient, changes={"sex": patient.sex}, actor=pharmacist, reason="checked"
    )
    assert AuditEvent.objects.count() == before
