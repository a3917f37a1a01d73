"""Doses, infusions and adverse events through the auditor API.

A dose comes with its bags, preparation and infusion inline, the protocol version it was
given under, each override it was given on, and the eligibility as evaluated when it was
ordered: what an inspector needs to recompute the cohort report.
"""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from batches.api import BATCH_CODE_HELP
from core.api.viewsets import AuditorViewSet
from dosing.api.overrides import OverrideSerializer, dose_overrides
from dosing.filters import AdverseEventFilterSet, DoseFilterSet, InfusionFilterSet
from dosing.models import AdverseEvent, Dose, DoseBag, Infusion, Preparation, Protocol
from patients.api import EligibilityAtOrderSerializer


def described(**texts: str) -> dict:
    return {name: {"help_text": text} for name, text in texts.items()}


def _username(source: str, text: str):
    return serializers.CharField(source=source, read_only=True, allow_null=True, help_text=text)


class DoseBagSerializer(serializers.ModelSerializer):
    bag = serializers.CharField(source="bag.code", read_only=True, help_text="Bag code.")
    bag_status = serializers.CharField(
        source="bag.status", read_only=True, help_text="Current status of the bag."
    )

    class Meta:
        model = DoseBag
        fields = ["bag", "bag_status", "cells", "volume_ml", "live", "reserved_at", "released_at"]
        extra_kwargs = described(
            volume_ml="Volume of the bag (ml).",
            reserved_at="When the bag was reserved for the dose.",
            released_at="When a cancellation released the bag; null otherwise.",
        )


class PreparationSerializer(serializers.ModelSerializer):
    prepared_by = _username("prepared_by.username", "Username of who prepared the dose.")

    class Meta:
        model = Preparation
        fields = [
            "method",
            "thawed_at",
            "medium",
            "premedication",
            "seeded_at",
            "harvested_at",
            "viable_cells",
            "viability_pct",
            "volume_ml",
            "prepared_by",
            "recorded_at",
        ]
        extra_kwargs = described(
            method="thawed (infused in the freezing medium) or refreshed (re-seeded, harvested).",
            thawed_at="When the bags were thawed.",
            medium="Medium the cells are infused in.",
            seeded_at="Refreshed: when the cells were re-seeded.",
            harvested_at="Refreshed: when the cells were harvested.",
            viability_pct="Refreshed: post-harvest viability (%).",
            volume_ml="Resuspension volume (ml).",
            recorded_at="When the preparation was recorded.",
        )


_VITALS = described(
    started_at="Start of the infusion.",
    ended_at="End of the infusion.",
    route="Route of administration (intravenous).",
    filter_200um_confirmed="Standard 200-micron transfusion filter confirmed.",
    premedication_given="Premedication given before the infusion.",
    heart_rate_before="Heart rate before (beats/min).",
    systolic_bp_before="Systolic blood pressure before (mmHg).",
    diastolic_bp_before="Diastolic blood pressure before (mmHg).",
    spo2_pct_before="SpO2 before (%).",
    temperature_c_before="Temperature before (°C).",
    heart_rate_after="Heart rate after (beats/min).",
    systolic_bp_after="Systolic blood pressure after (mmHg).",
    diastolic_bp_after="Diastolic blood pressure after (mmHg).",
    spo2_pct_after="SpO2 after (%).",
    temperature_c_after="Temperature after (°C).",
    immediate_reactions="Immediate reactions observed.",
    recorded_at="When the infusion was recorded.",
)
_INFUSION_FIELDS = [
    "started_at",
    "ended_at",
    "route",
    "filter_200um_confirmed",
    "premedication_given",
    "infused_by",
    *Infusion.VITAL_FIELDS,
    "immediate_reactions",
    "recorded_at",
]


class DoseInfusionSerializer(serializers.ModelSerializer):
    """An infusion as shown inside its dose."""

    infused_by = _username("infused_by.username", "Username of who gave the infusion.")

    class Meta:
        model = Infusion
        fields = ["id", *_INFUSION_FIELDS]
        extra_kwargs = {**_VITALS, "id": {"help_text": "Identifier of the infusion."}}


class InfusionSerializer(DoseInfusionSerializer):
    dose = serializers.IntegerField(source="dose_id", read_only=True, help_text="Dose id.")
    dose_code = serializers.CharField(
        source="dose.code", read_only=True, help_text="Dose code: patient code / D<number>."
    )
    patient = serializers.CharField(
        source="dose.patient.code", read_only=True, help_text="Patient code."
    )
    batch = serializers.CharField(
        source="dose.batch.code", read_only=True, allow_null=True, help_text=BATCH_CODE_HELP
    )

    class Meta(DoseInfusionSerializer.Meta):
        fields = ["id", "dose", "dose_code", "patient", "batch", *_INFUSION_FIELDS]


class ProtocolVersionSerializer(serializers.ModelSerializer):
    """The protocol version a dose used: its every setting is at `url`."""

    url = serializers.HyperlinkedIdentityField(
        view_name="v1:protocol-detail",
        help_text="The version in /api/v1/protocols/, with every setting.",
    )

    class Meta:
        model = Protocol
        fields = ["id", "code", "version", "url"]
        extra_kwargs = described(
            id="Identifier of the protocol version.",
            code="Protocol code.",
            version="Version number.",
        )


class DoseSerializer(serializers.ModelSerializer):
    code = serializers.CharField(
        read_only=True, help_text="Dose code: patient code / D<number>, e.g. SAL-P01/D1."
    )
    patient = serializers.CharField(source="patient.code", read_only=True, help_text="Patient.")
    protocol = serializers.CharField(
        source="protocol.__str__", read_only=True, help_text="Protocol code and version."
    )
    protocol_version = ProtocolVersionSerializer(
        source="protocol", read_only=True, help_text="The protocol version the dose used."
    )
    overrides = serializers.SerializerMethodField(
        help_text="Each rule the dose was given against on a physician's override: the "
        "rule, the physician, the reason (empty when none)."
    )
    eligibility_at_order = serializers.SerializerMethodField(
        help_text="The eligibility as evaluated when the dose was ordered (null for a dose "
        "ordered before it was kept)."
    )
    batch = serializers.CharField(
        source="batch.code",
        read_only=True,
        allow_null=True,
        help_text=BATCH_CODE_HELP + " Null until bags are allocated.",
    )
    delivered_cells_per_kg = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Delivered cells per kg of body weight."
    )
    ordered_by = _username("ordered_by.username", "Username of who ordered the dose.")
    allocated_by = _username("allocated_by.username", "Username of who allocated the bags.")
    dispensed_by = _username("dispensed_by.username", "Username of who dispensed the dose.")
    bags = DoseBagSerializer(
        source="dose_bags", many=True, read_only=True, help_text="Bags reserved for the dose."
    )
    preparation = PreparationSerializer(
        read_only=True, allow_null=True, help_text="Thaw or refresh record; null before."
    )
    infusion = DoseInfusionSerializer(
        read_only=True, allow_null=True, help_text="Bedside infusion record; null before."
    )

    class Meta:
        model = Dose
        fields = [
            "id",
            "code",
            "patient",
            "number",
            "status",
            "protocol",
            "protocol_version",
            "batch",
            "planned_for",
            "weight_kg",
            "weight_measured_on",
            "required_cells",
            "planned_cells",
            "planned_volume_ml",
            "delivered_cells",
            "delivered_cells_per_kg",
            "override_physician",
            "override_reason",
            "overrides",
            "eligibility_at_order",
            "ordered_by",
            "ordered_at",
            "allocated_by",
            "allocated_at",
            "dispensed_by",
            "dispensed_at",
            "use_before",
            "cancelled_at",
            "cancel_reason",
            "bags",
            "preparation",
            "infusion",
        ]
        extra_kwargs = described(
            id="Identifier of the dose.",
            number="Dose number for the patient (1 to 3).",
            status="Dose status.",
            weight_kg="Body weight the dose was calculated from (kg).",
            weight_measured_on="Date of that weight.",
            required_cells="Cells the target dose needs (cells).",
            planned_cells="Cells in the allocated bags (cells).",
            planned_volume_ml="Volume of the allocated bags (ml).",
            override_physician="Physician who authorised a dose outside the range (kept for "
            "older clients; `overrides` has every override, structured).",
            override_reason="Written reason for that override (see `overrides`).",
            ordered_at="When the dose was ordered.",
            allocated_at="When bags were allocated.",
            dispensed_at="When the dose was dispensed.",
            cancelled_at="When the dose was cancelled.",
            cancel_reason="Why the dose was cancelled.",
        )

    @extend_schema_field(OverrideSerializer(many=True))
    def get_overrides(self, dose):
        return dose_overrides(dose)

    @extend_schema_field(EligibilityAtOrderSerializer(allow_null=True))
    def get_eligibility_at_order(self, dose):
        return dose.eligibility_at_order


class AdverseEventSerializer(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.code", read_only=True, help_text="Patient.")
    dose = serializers.CharField(
        source="dose.code", read_only=True, allow_null=True, help_text="Dose code, if linked."
    )
    batch = serializers.CharField(
        source="dose.batch.code", read_only=True, allow_null=True, help_text=BATCH_CODE_HELP
    )
    reported_by = _username("reported_by.username", "Username of who reported the event.")

    class Meta:
        model = AdverseEvent
        fields = [
            "id",
            "patient",
            "dose",
            "batch",
            "onset_at",
            "description",
            "ctcae_grade",
            "serious",
            "outcome",
            "causality",
            "reported_by",
            "reported_at",
        ]
        extra_kwargs = described(
            id="Identifier of the adverse event.",
            onset_at="Onset of the event.",
            description="What happened.",
            ctcae_grade="Severity, CTCAE grade 1-5.",
            serious="Whether the event is serious.",
            outcome="Outcome of the event.",
            causality="Causality to the cell product (WHO-UMC).",
            reported_at="When the event was reported.",
        )


def dose_queryset():
    return Dose.objects.select_related(
        "patient",
        "protocol",
        "batch",
        "ordered_by",
        "allocated_by",
        "dispensed_by",
        "preparation",
        "preparation__prepared_by",
        "infusion",
        "infusion__infused_by",
    ).prefetch_related(
        Prefetch("dose_bags", queryset=DoseBag.objects.select_related("bag").order_by("pk"))
    )


class DoseViewSet(AuditorViewSet):
    """Doses with their bags, preparation and infusion inline."""

    queryset = dose_queryset()
    serializer_class = DoseSerializer
    filterset_class = DoseFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "planned_for"]
    csv_filename = "doses"


class InfusionViewSet(AuditorViewSet):
    """Bedside infusion records: filter, vital signs before and after, reactions."""

    queryset = Infusion.objects.select_related(
        "dose", "dose__patient", "dose__batch", "infused_by"
    )
    serializer_class = InfusionSerializer
    filterset_class = InfusionFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "started_at"]
    csv_filename = "infusions"


class AdverseEventViewSet(AuditorViewSet):
    """Adverse events: CTCAE grade, seriousness, outcome and WHO-UMC causality."""

    queryset = AdverseEvent.objects.select_related(
        "patient", "dose", "dose__patient", "dose__batch", "reported_by"
    )
    serializer_class = AdverseEventSerializer
    filterset_class = AdverseEventFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "onset_at", "reported_at"]
    csv_filename = "adverse-events"
