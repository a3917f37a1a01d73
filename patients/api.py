"""Serializers and read-only viewsets for patients (auditor API); patients by code only.

A patient comes with the current weight, the eligibility evaluated criterion by criterion
from the latest assessment, the follow-up observations and the outcomes. The queryset
prefetches all of them, so a page costs a constant number of queries.
"""

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.viewsets import AuditorViewSet
from patients.cohort_api import COURSE_PREFETCHES, ClinicalCourseFields, HospitalStaySerializer
from patients.eligibility import evaluate_eligibility
from patients.filters import PatientFilterSet
from patients.models import (
    ClinicalAssessment,
    ClinicalOutcome,
    Observation,
    Patient,
    WeightMeasurement,
)


def described(**texts: str) -> dict:
    """`extra_kwargs` giving each named model field its OpenAPI description."""
    return {name: {"help_text": text} for name, text in texts.items()}


class WeightSerializer(serializers.ModelSerializer):
    class Meta:
        model = WeightMeasurement
        fields = ["weight_kg", "measured_on"]
        extra_kwargs = described(
            weight_kg="Body weight in kg.", measured_on="Date the weight was measured."
        )


# Units are in the field names (STYLE.md); the help texts say them in words.
ASSESSMENT_HELP = {
    "id": "Identifier of the assessment.",
    "assessed_on": "Date of the assessment.",
    "sars_cov2_rt_pcr_confirmed": "SARS-CoV-2 confirmed by RT-PCR (null: not recorded).",
    "pneumonia_on_imaging": "Pneumonia on chest X-ray or CT (null: not recorded).",
    "invasive_ventilation_in_icu": "Invasive mechanical ventilation in ICU (null: not recorded).",
    "respiratory_rate_per_min": "Respiratory rate (breaths per minute).",
    "spo2_pct": "SpO2 at rest (%).",
    "pao2_fio2_mmhg": "PaO2/FiO2 ratio (mmHg).",
    "imaging_progression_over_50_pct": "Imaging progression over 50 % in 24-48 h.",
    "sofa_score": "SOFA score (0-24).",
    "who_ordinal_scale": "WHO ordinal scale level (0-8).",
    "multi_organ_failure": "Multi-organ failure.",
    "creatinine_clearance_ml_min": "Creatinine clearance (ml/min).",
    "alt_u_l": "ALT (U/l).",
    "ast_u_l": "AST (U/l).",
    "active_neoplasm": "Active neoplasm (an exclusion).",
    "systemic_immunosuppression": "Systemic immunosuppression before admission (an exclusion).",
}


class AssessmentSerializer(serializers.ModelSerializer):
    """An assessment's recorded values, typed: booleans, integers and decimals (as
    strings, like every decimal of the API), null where a value was not recorded."""

    class Meta:
        model = ClinicalAssessment
        fields = ["id", "assessed_on", *ClinicalAssessment.VALUE_FIELDS]
        extra_kwargs = described(**ASSESSMENT_HELP)


# The criteria read from the patient's own record and outcomes, not from the assessment.
NOT_FROM_ASSESSMENT = frozenset({"age", "not_deceased", "consent", "aemps_authorisation"})


class CriterionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable code of the criterion.")
    label = serializers.CharField(help_text="The criterion as the protocol states it.")
    status = serializers.ChoiceField(
        choices=["met", "not_met", "missing"], help_text="met, not_met or missing."
    )
    value = serializers.CharField(
        help_text="The recorded value(s) the status comes from, as text; the typed values "
        "are in `assessment`."
    )
    assessment_id = serializers.IntegerField(
        allow_null=True,
        help_text="The assessment the criterion was read from; null for the criteria read "
        "from the patient's record (age, consent, authorisation, death).",
    )


def criterion_rows(eligibility, assessment) -> list[dict]:
    """Each criterion as the API gives it, naming the assessment it was read from."""
    assessment_id = assessment.pk if assessment is not None else None
    return [
        {
            "code": c.code,
            "label": c.label,
            "status": c.status,
            "value": c.value,
            "assessment_id": None if c.code in NOT_FROM_ASSESSMENT else assessment_id,
        }
        for c in eligibility.criteria
    ]


class EligibilitySerializer(serializers.Serializer):
    is_eligible = serializers.BooleanField(help_text="True only when every criterion is met.")
    assessed_on = serializers.DateField(
        allow_null=True, help_text="Date of the assessment evaluated (the latest)."
    )
    assessment = AssessmentSerializer(
        allow_null=True, help_text="The assessment evaluated, its values typed; null if none."
    )
    criteria = CriterionSerializer(
        many=True, help_text="Every inclusion and exclusion criterion, in protocol order."
    )


class EligibilityAtOrderSerializer(serializers.Serializer):
    """The eligibility as evaluated when a dose was ordered, kept with the dose."""

    evaluated_on = serializers.DateField(help_text="The day the eligibility was evaluated for.")
    is_eligible = serializers.BooleanField(help_text="The overall verdict then.")
    reconstructed = serializers.BooleanField(
        help_text="false: recorded by the order itself; true: re-evaluated later from the "
        "assessment current at the order time."
    )
    assessed_on = serializers.DateField(allow_null=True, help_text="Date of that assessment.")
    assessment = AssessmentSerializer(
        allow_null=True, help_text="The assessment evaluated, its values typed as then."
    )
    criteria = CriterionSerializer(many=True, help_text="Every criterion as evaluated.")


def eligibility_record(
    eligibility, assessment, *, evaluated_on, reconstructed: bool = False
) -> dict:
    """The JSON kept with a dose (`Dose.eligibility_at_order`): the verdict, every
    criterion with its status and value, the assessment's id and typed values."""
    values = AssessmentSerializer(assessment).data if assessment is not None else None
    criteria = [dict(row) for row in CriterionSerializer(
        criterion_rows(eligibility, assessment), many=True
    ).data]  # fmt: skip
    return {
        "evaluated_on": evaluated_on.isoformat(),
        "is_eligible": eligibility.is_eligible,
        "reconstructed": reconstructed,
        "assessed_on": eligibility.assessed_on.isoformat() if eligibility.assessed_on else None,
        "assessment": dict(values) if values is not None else None,
        "criteria": criteria,
    }


class ObservationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Observation
        fields = ["kind", "value", "unit", "observed_at", "note"]
        extra_kwargs = described(
            kind="What was measured: crp, il6, ferritin, ldh, d_dimer, fibrinogen, "
            "lymphocytes or who_scale.",
            value="The measured value, in `unit`.",
            unit="Unit of the value (fixed per kind).",
            observed_at="When the sample was taken or the scale assessed.",
            note="Free-text note (e.g. 'before dose 1', 'day 5').",
        )


class OutcomeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClinicalOutcome
        fields = ["kind", "occurred_on", "note"]
        extra_kwargs = described(
            kind="extubation, icu_discharge or death.",
            occurred_on="Date of the outcome.",
            note="Free-text note (e.g. cause of death).",
        )


class PatientSerializer(ClinicalCourseFields, serializers.ModelSerializer):
    hospital = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="Hospital site code, e.g. HUS or FJD."
    )
    hospital_name = serializers.CharField(
        source="hospital.name", read_only=True, help_text="Name of the hospital."
    )
    # Age, not the date of birth: a birth date is an identifying detail the auditor does
    # not need to trace a product to a pseudonymised patient.
    age_years = serializers.SerializerMethodField(
        help_text="Age in completed years at registration."
    )
    current_weight = serializers.SerializerMethodField(
        help_text="The latest recorded weight, used for the dose."
    )
    eligibility = serializers.SerializerMethodField(
        help_text="Eligibility evaluated from the latest recorded assessment."
    )
    observations = ObservationSerializer(
        many=True,
        read_only=True,
        help_text="Follow-up laboratory values and WHO scale, in time order.",
    )
    outcomes = OutcomeSerializer(
        many=True, read_only=True, help_text="Extubation, ICU discharge and death, by date."
    )
    assessments = AssessmentSerializer(
        many=True, read_only=True, help_text="Every recorded assessment, typed, in date order."
    )

    class Meta:
        model = Patient
        fields = [
            "code",
            "hospital",
            "hospital_name",
            "sex",
            "age_years",
            "consent_by_relatives",
            "consent_date",
            "compassionate_use_authorisation",
            "created_at",
            "current_weight",
            "eligibility",
            "assessments",
            "observations",
            "outcomes",
            *ClinicalCourseFields.COURSE_FIELDS,
        ]
        extra_kwargs = described(
            code="Pseudonymised patient code (never a name).",
            sex="M or F.",
            consent_by_relatives="Whether the relatives' informed consent is on file.",
            consent_date="Date the relatives gave consent.",
            compassionate_use_authorisation="AEMPS compassionate-use authorisation reference.",
            created_at="When the patient was registered.",
        )

    def get_age_years(self, patient) -> int | None:
        return patient.age_on(timezone.localdate(patient.created_at))

    @extend_schema_field(WeightSerializer(allow_null=True))
    def get_current_weight(self, patient):
        weight = patient.current_weight()
        return WeightSerializer(weight).data if weight else None

    @extend_schema_field(EligibilitySerializer)
    def get_eligibility(self, patient):
        assessment = patient.latest_assessment()
        result = evaluate_eligibility(patient, assessment)
        return EligibilitySerializer(
            {
                "is_eligible": result.is_eligible,
                "assessed_on": result.assessed_on,
                "assessment": assessment,
                "criteria": criterion_rows(result, assessment),
            }
        ).data

    @extend_schema_field(HospitalStaySerializer(allow_null=True))
    def get_stay(self, patient):
        return super().get_stay(patient)


def patient_queryset():
    return Patient.objects.select_related("hospital").prefetch_related(
        Prefetch("weights", queryset=WeightMeasurement.objects.order_by("measured_on", "pk")),
        Prefetch("assessments", queryset=ClinicalAssessment.objects.order_by("assessed_on", "pk")),
        Prefetch("observations", queryset=Observation.objects.order_by("observed_at", "pk")),
        Prefetch("outcomes", queryset=ClinicalOutcome.objects.order_by("occurred_on", "pk")),
        *COURSE_PREFETCHES,
    )


class PatientViewSet(AuditorViewSet):
    """Patients, by pseudonymised code, with weight, eligibility and follow-up."""

    queryset = patient_queryset()
    serializer_class = PatientSerializer
    filterset_class = PatientFilterSet
    lookup_field = "code"
    ordering = ["code"]
    ordering_fields = ["code", "created_at"]
    csv_filename = "patients"
