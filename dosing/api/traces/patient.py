"""Patient → doses → bags → batch → donor, in one response."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers

from dosing.api.records import described
from dosing.api.traces.common import PatientTraceBatchSerializer, TraceView
from dosing.models import Dose, DoseBag
from patients.models import Patient


class PatientTraceBagSerializer(serializers.Serializer):
    code = serializers.CharField(source="bag.code", help_text="Bag code.")
    status = serializers.CharField(source="bag.status", help_text="Current bag status.")
    cells = serializers.IntegerField(help_text="Cells reserved from the bag.")
    volume_ml = serializers.DecimalField(
        max_digits=6, decimal_places=1, help_text="Volume of the bag (ml)."
    )
    live = serializers.BooleanField(help_text="False once a cancellation released the bag.")


class PatientTraceDoseSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text="Dose code.")
    batch = PatientTraceBatchSerializer(
        read_only=True,
        allow_null=True,
        help_text="The batch and its donor; null before allocation.",
    )
    bags = PatientTraceBagSerializer(
        source="dose_bags", many=True, read_only=True, help_text="Bags of the dose."
    )
    preparation_method = serializers.CharField(
        source="preparation.method",
        read_only=True,
        allow_null=True,
        help_text="thawed or refreshed; null before preparation.",
    )
    infused_at = serializers.DateTimeField(
        source="infusion.started_at",
        read_only=True,
        allow_null=True,
        help_text="Start of the infusion; null if not infused.",
    )

    class Meta:
        model = Dose
        fields = [
            "id",
            "code",
            "number",
            "status",
            "delivered_cells",
            "batch",
            "bags",
            "preparation_method",
            "infused_at",
        ]
        extra_kwargs = described(
            id="Identifier of the dose.",
            number="Dose number.",
            status="Dose status.",
            delivered_cells="Cells delivered (cells).",
        )


class PatientTraceSerializer(serializers.ModelSerializer):
    hospital = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="Treating hospital's site code."
    )
    doses = PatientTraceDoseSerializer(many=True, read_only=True, help_text="The patient's doses.")
    donors = serializers.SerializerMethodField(
        help_text="Codes of every donor whose cells the patient received (or was allocated)."
    )

    class Meta:
        model = Patient
        fields = ["code", "hospital", "doses", "donors"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_donors(self, patient):
        return sorted({dose.batch.donor.code for dose in patient.doses.all() if dose.batch})


class PatientTraceView(TraceView):
    """Patient → doses → bags → batch → donor, in one response."""

    serializer_class = PatientTraceSerializer

    def get_queryset(self):
        return Patient.objects.select_related("hospital").prefetch_related(
            Prefetch(
                "doses",
                queryset=Dose.objects.select_related(
                    "batch", "batch__donor", "batch__facility", "preparation", "infusion"
                ).order_by("number", "pk"),
            ),
            Prefetch("doses__dose_bags", queryset=DoseBag.objects.select_related("bag")),
        )

    @extend_schema(operation_id="trace_patient")
    def get(self, request, code):
        return super().get(request, code)
