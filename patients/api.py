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


class CriterionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable code of the criterion.")
    label = serializers.CharField(help_text="The criterion as the protocol states it.")
    status = serializers.ChoiceField(
        choices=["met", "not_met", "missing"], help_text="met, not_met or missing."
    )
    value = serializers.CharField(help_text="The recorded value(s) the status comes from.")


class EligibilitySerializer(serializers.Serializer):
    is_eligible = serializers.BooleanField(help_text="True only when every criterion is met.")
    assessed_on = serializers.DateField(
        allow_null=True, help_text="Date of the assessment evaluated (the latest)."
    )
    criteria = CriterionSerializer(
        many=True, help_text="Every inclusion and exclusion criterion, in protocol order."
    )


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
        result = evaluate_eligibility(patient)
        return EligibilitySerializer(result).data

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
