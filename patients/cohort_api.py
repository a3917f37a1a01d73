"""Serializers of the clinical course, nested in the patient of the auditor API.

`patients.api.patient_queryset` prefetches every one (`COURSE_PREFETCHES`), so a page of
patients costs the same number of queries whatever its size.
"""

from __future__ import annotations

from django.db.models import Prefetch
from rest_framework import serializers

from patients.models import ChestXray, HospitalStay, Infection, LymphocyteSubsets, SupportPeriod


class HospitalStaySerializer(serializers.ModelSerializer):
    class Meta:
        model = HospitalStay
        fields = ["admitted_on", "follow_up_ended_on"]
        extra_kwargs = {
            "admitted_on": {"help_text": "Date of the hospital admission."},
            "follow_up_ended_on": {"help_text": "Last day of follow-up (null: ongoing)."},
        }


class SupportPeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupportPeriod
        fields = ["kind", "started_at", "ended_at"]
        extra_kwargs = {
            "kind": {"help_text": "imv (invasive mechanical ventilation) or ecmo."},
            "started_at": {"help_text": "Start of the period (intubation, cannulation)."},
            "ended_at": {"help_text": "Empty while the period is ongoing."},
        }


class ChestXraySerializer(serializers.ModelSerializer):
    class Meta:
        model = ChestXray
        fields = ["taken_on", "wong_score"]
        extra_kwargs = {
            "taken_on": {"help_text": "Date of the chest X-ray."},
            "wong_score": {"help_text": "Wong et al. score, 0–8 (each lung 0–4)."},
        }


class LymphocyteSubsetsSerializer(serializers.ModelSerializer):
    class Meta:
        model = LymphocyteSubsets
        fields = ["timepoint", "sampled_on", *LymphocyteSubsets.COUNT_FIELDS]
        extra_kwargs = {
            "timepoint": {"help_text": "before (dose 1) or after (about 10 days after dose 1)."},
            "sampled_on": {"help_text": "Date of the blood sample."},
            "b_cells_per_ul": {"help_text": "B cells per µl."},
            "cd4_per_ul": {"help_text": "CD4+ T cells per µl."},
            "cd8_per_ul": {"help_text": "CD8+ T cells per µl."},
            "nk_per_ul": {"help_text": "NK cells per µl."},
        }


class InfectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Infection
        fields = ["organism", "site", "diagnosed_on"]
        extra_kwargs = {
            "organism": {"help_text": "The organism, e.g. Candida spp."},
            "site": {"help_text": "Where, e.g. pneumonia, bloodstream."},
            "diagnosed_on": {"help_text": "Date of the diagnosis."},
        }


COURSE_PREFETCHES = (
    "stay",
    Prefetch("support_periods", queryset=SupportPeriod.objects.order_by("started_at", "pk")),
    Prefetch("xrays", queryset=ChestXray.objects.order_by("taken_on", "pk")),
    Prefetch(
        "lymphocyte_subsets", queryset=LymphocyteSubsets.objects.order_by("sampled_on", "pk")
    ),
    Prefetch("infections", queryset=Infection.objects.order_by("diagnosed_on", "pk")),
)


class ClinicalCourseFields(serializers.Serializer):
    """The course's fields, mixed into the patient serializer."""

    stay = serializers.SerializerMethodField(
        help_text="Hospital admission and end of follow-up (null when not recorded)."
    )
    support_periods = SupportPeriodSerializer(
        many=True, read_only=True, help_text="Invasive ventilation and ECMO periods."
    )
    xrays = ChestXraySerializer(
        many=True, read_only=True, help_text="Chest X-ray scores (Wong et al., 0–8) by date."
    )
    lymphocyte_subsets = LymphocyteSubsetsSerializer(
        many=True, read_only=True, help_text="B, CD4+, CD8+ and NK cells per µl."
    )
    infections = InfectionSerializer(many=True, read_only=True, help_text="Infections.")

    COURSE_FIELDS = ["stay", "support_periods", "xrays", "lymphocyte_subsets", "infections"]

    def get_stay(self, patient) -> dict | None:
        try:
            stay = patient.stay
        except HospitalStay.DoesNotExist:
            return None
        return HospitalStaySerializer(stay).data
