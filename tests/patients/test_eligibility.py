"""Eligibility is evaluated from recorded values, criterion by criterion (pure function)."""

import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patients import eligibility as E
from patients.eligibility import MET, MISSING, NOT_MET, evaluate_eligibility
from patients.models import ClinicalAssessment, Patient
from tests.factories import HospitalFactory
from tests.factories.patients import ELIGIBLE_VALUES, PatientFactory

TODAY = datetime.date(2026, 5, 4)


def _patient(**overrides) -> Patient:
    fields = {
        "code": "TST-P01",
        "hospital": HospitalFactory.build(),
        "sex": Patient.Sex.MALE,
        "birth_date": datetime.date(1966, 1, 15),
        "consent_by_relatives": True,
        "consent_date": datetime.date(2026, 5, 1),
        "compassionate_use_authorisation": "AEMPS-UC-1",
    }
    return Patient(**{**fields, **overrides})


def _evaluate(patient=None, **values):
    assessment = ClinicalAssessment(assessed_on=TODAY, **{**ELIGIBLE_VALUES, **values})
    return evaluate_eligibility(patient or _patient(), assessment, on=TODAY)


def _status(result, code):
    return next(c for c in result.criteria if c.code == code).status


def test_patient_meeting_every_criterion_is_eligible():
    result = _evaluate()
    assert result.is_eligible
    assert {c.status for c in result.criteria} == {MET}
    assert result.reasons() == []


def test_every_criterion_is_listed_once_in_a_stable_order():
    codes = [c.code for c in _evaluate().criteria]
    assert codes == [
        "age",
        "not_deceased",
        "consent",
        "aemps_authorisation",
        "sars_cov2_rt_pcr",
        "pneumonia_on_imaging",
        "invasive_ventilation_in_icu",
        "respiratory_severity",
        "sofa",
        "who_ordinal_scale",
        "no_multi_organ_failure",
        "creatinine_clearance",
        "alt",
        "ast",
        "no_active_neoplasm",
        "no_systemic_immunosuppression",
    ]


@pytest.mark.parametrize("field", ClinicalAssessment.VALUE_FIELDS)
def test_an_unrecorded_value_is_never_silently_met(field):
    """Every value left empty makes the patient not eligible (missing), except the four
    alternatives of respiratory severity, where another recorded one already qualifies."""
    result = _evaluate(**{field: None})
    alternatives = {
        "respiratory_rate_per_min",
        "spo2_pct",
        "pao2_fio2_mmhg",
        "imaging_progression_over_50_pct",
    }
    if field in alternatives:
        assert result.is_eligible
    else:
        assert not result.is_eligible
        assert [c.status for c in result.criteria if c.status != MET] == [MISSING]
        assert "not recorded" in result.reasons()[0]


def test_patient_without_any_assessment_is_not_eligible_and_lists_everything_missing():
    result = evaluate_eligibility(_patient(), on=TODAY)
    assert not result.is_eligible
    assert len(result.missing) == 12
    assert result.assessed_on is None


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("sars_cov2_rt_pcr_confirmed", False, "sars_cov2_rt_pcr"),
        ("pneumonia_on_imaging", False, "pneumonia_on_imaging"),
        ("invasive_ventilation_in_icu", False, "invasive_ventilation_in_icu"),
        ("multi_organ_failure", True, "no_multi_organ_failure"),
        ("active_neoplasm", True, "no_active_neoplasm"),
        ("systemic_immunosuppression", True, "no_systemic_immunosuppression"),
    ],
)
def test_a_yes_no_criterion_failed_is_not_met(field, value, code):
    result = _evaluate(**{field: value})
    assert _status(result, code) == NOT_MET
    assert not result.is_eligible


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("sofa_score", 3, NOT_MET),
        ("sofa_score", 4, MET),
        ("who_ordinal_scale", 5, NOT_MET),
        ("who_ordinal_scale", 6, MET),
        ("who_ordinal_scale", 7, NOT_MET),
        ("creatinine_clearance_ml_min", Decimal("30.0"), NOT_MET),
        ("creatinine_clearance_ml_min", Decimal("30.1"), MET),
        ("alt_u_l", Decimal("199.9"), MET),
        ("alt_u_l", Decimal("200.0"), NOT_MET),
        ("ast_u_l", Decimal("199.9"), MET),
        ("ast_u_l", Decimal("200.0"), NOT_MET),
    ],
)
def test_threshold_boundaries_follow_the_protocol(field, value, status):
    code = {
        "sofa_score": "sofa",
        "who_ordinal_scale": "who_ordinal_scale",
        "creatinine_clearance_ml_min": "creatinine_clearance",
        "alt_u_l": "alt",
        "ast_u_l": "ast",
    }[field]
    assert _status(_evaluate(**{field: value}), code) == status


def test_transaminase_limit_is_five_times_the_upper_limit_of_normal():
    limit = E.TRANSAMINASE_LIMIT_EXCLUSIVE_U_L
    assert limit == Decimal("200")


def test_age_in_completed_years_must_be_over_18_on_the_day():
    born = datetime.date(2007, 5, 5)  # 18 completed years on TODAY, 19 tomorrow
    assert _status(_evaluate(_patient(birth_date=born)), "age") == NOT_MET
    older = born - datetime.timedelta(days=1)
    assert _status(_evaluate(_patient(birth_date=older)), "age") == MET


def test_age_in_years_is_used_when_no_birth_date():
    patient = _patient(birth_date=None, age_years=19)
    assert _status(_evaluate(patient), "age") == MET
    patient = _patient(birth_date=None, age_years=18)
    assert _status(_evaluate(patient), "age") == NOT_MET


def test_consent_and_aemps_reference_missing_make_the_patient_not_eligible():
    result = _evaluate(
        _patient(consent_by_relatives=False, consent_date=None, compassionate_use_authorisation="")
    )
    assert _status(result, "consent") == MISSING
    assert _status(result, "aemps_authorisation") == MISSING
    assert not result.is_eligible


NO_SEVERITY = {
    "respiratory_rate_per_min": 29,
    "spo2_pct": Decimal("93.1"),
    "pao2_fio2_mmhg": 301,
    "imaging_progression_over_50_pct": False,
}


def test_respiratory_severity_not_met_when_all_four_recorded_and_none_qualifies():
    result = _evaluate(**NO_SEVERITY)
    assert _status(result, "respiratory_severity") == NOT_MET


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("respiratory_rate_per_min", 30),
        ("spo2_pct", Decimal("93.0")),
        ("pao2_fio2_mmhg", 300),
        ("imaging_progression_over_50_pct", True),
    ],
)
def test_respiratory_severity_met_by_any_one_value_at_its_boundary(field, value):
    result = _evaluate(**{**NO_SEVERITY, field: value})
    assert _status(result, "respiratory_severity") == MET


def test_respiratory_severity_missing_when_recorded_values_fail_and_one_is_unrecorded():
    result = _evaluate(**{**NO_SEVERITY, "pao2_fio2_mmhg": None})
    assert _status(result, "respiratory_severity") == MISSING


def test_criterion_shows_the_recorded_value():
    result = _evaluate(creatinine_clearance_ml_min=Decimal("25.0"))
    crcl = next(c for c in result.criteria if c.code == "creatinine_clearance")
    assert crcl.value == "25 ml/min"
    assert "Creatinine clearance > 30 ml/min (recorded: 25 ml/min)" in result.reasons()[0]


@given(
    sofa=st.one_of(st.none(), st.integers(0, 24)),
    crcl=st.one_of(st.none(), st.decimals("0", "200", places=1)),
    alt=st.one_of(st.none(), st.decimals("0", "2000", places=1)),
    who=st.one_of(st.none(), st.integers(0, 8)),
)
def test_eligible_exactly_when_each_value_is_recorded_and_within_limits(sofa, crcl, alt, who):
    result = _evaluate(
        sofa_score=sofa, creatinine_clearance_ml_min=crcl, alt_u_l=alt, who_ordinal_scale=who
    )
    expected = (
        sofa is not None
        and sofa > 3
        and crcl is not None
        and crcl > 30
        and alt is not None
        and alt < 200
        and who == 6
    )
    assert result.is_eligible is expected


@pytest.mark.django_db
def test_latest_recorded_assessment_is_the_one_evaluated(system_context):
    patient = PatientFactory(assessment={"sofa_score": 2})
    assert not evaluate_eligibility(patient).is_eligible
    ClinicalAssessment.objects.create(
        patient=patient,
        assessed_on=patient.latest_assessment().assessed_on + datetime.timedelta(days=0),
        **{**ELIGIBLE_VALUES, "sofa_score": 5},
    )
    assert evaluate_eligibility(patient).is_eligible


# --- recorded outcomes count ---------------------------------------------------------------


def _outcome(patient, kind, days_after_assessment):
    from patients.models import ClinicalOutcome

    return ClinicalOutcome.objects.create(
        patient=patient,
        kind=kind,
        occurred_on=patient.latest_assessment().assessed_on
        + datetime.timedelta(days=days_after_assessment),
    )


@pytest.mark.django_db
def test_a_recorded_death_makes_not_deceased_not_met(system_context):
    patient = PatientFactory(assessment={"assessed_on": TODAY - datetime.timedelta(days=3)})
    death = _outcome(patient, "death", 1)
    result = evaluate_eligibility(patient, on=TODAY)
    assert not result.is_eligible
    assert _status(result, "not_deceased") == NOT_MET
    assert f"died on {death.occurred_on}" in result.reasons()[0]
    # The day before the death, the patient was alive.
    before = evaluate_eligibility(patient, on=death.occurred_on - datetime.timedelta(days=1))
    assert before.is_eligible


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["extubation", "icu_discharge"])
def test_extubation_or_icu_discharge_after_the_assessment_ends_ventilation_in_icu(
    system_context, kind
):
    patient = PatientFactory(assessment={"assessed_on": TODAY - datetime.timedelta(days=3)})
    _outcome(patient, kind, 1)
    result = evaluate_eligibility(patient, on=TODAY)
    assert _status(result, "invasive_ventilation_in_icu") == NOT_MET
    assert not result.is_eligible


@pytest.mark.django_db
def test_a_new_assessment_after_extubation_counts_again(system_context):
    patient = PatientFactory(assessment={"assessed_on": TODAY - datetime.timedelta(days=3)})
    _outcome(patient, "extubation", 1)
    ClinicalAssessment.objects.create(
        patient=patient, assessed_on=TODAY - datetime.timedelta(days=1), **ELIGIBLE_VALUES
    )
    assert evaluate_eligibility(patient, on=TODAY).is_eligible


@pytest.mark.django_db
def test_an_outcome_on_the_assessment_day_counts_when_recorded_after_it(system_context):
    patient = PatientFactory(assessment={"assessed_on": TODAY - datetime.timedelta(days=1)})
    _outcome(patient, "extubation", 0)
    result = evaluate_eligibility(patient, on=TODAY)
    assert _status(result, "invasive_ventilation_in_icu") == NOT_MET
