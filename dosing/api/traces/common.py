"""What the traces share: the dose of a trace, the batch of a patient's or bag's trace,
the left-out counts, the base view and its permissions."""

from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from batches.api import BATCH_CODE_HELP, FacilitySerializer
from batches.models import Batch
from core.api.permissions import HasViewPermissions
from dosing.api.records import described
from dosing.models import Dose, DoseBag


class TraceDoseSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text="Dose code.")
    patient = serializers.CharField(source="patient.code", read_only=True, help_text="Patient.")
    infused_at = serializers.DateTimeField(
        source="infusion.started_at",
        read_only=True,
        allow_null=True,
        help_text="Start of the infusion; null if not infused.",
    )

    class Meta:
        model = Dose
        fields = ["id", "code", "number", "status", "patient", "infused_at"]
        extra_kwargs = described(
            id="Identifier of the dose.", number="Dose number.", status="Dose status."
        )


LEFT_OUT_HELP = "How many {} exist that you may not see (left out of this trace)."


def _left_out(total, shown) -> int:
    return max(0, (total or 0) - len(shown))


class PatientTraceBatchSerializer(serializers.ModelSerializer):
    code = serializers.CharField(read_only=True, help_text=BATCH_CODE_HELP)
    donor = serializers.CharField(source="donor.code", read_only=True, help_text="Donor code.")
    facility = FacilitySerializer(read_only=True, help_text="Facility that made the batch.")

    class Meta:
        model = Batch
        fields = ["code", "status", "donor", "facility"]
        extra_kwargs = described(status="Batch status.")


_TRACE_PERMISSIONS = (
    "batches.view_donor",
    "batches.view_batch",
    "batches.view_bag",
    "dosing.view_dose",
    "patients.view_patient",
)


def _trace_doses(user):
    """The dose links of a bag that `user` may see (their doses' patients' hospitals)."""
    return (
        DoseBag.objects.filter(dose__in=Dose.objects.for_user(user))
        .select_related("dose", "dose__patient", "dose__infusion")
        .order_by("pk")
    )


class TraceView(GenericAPIView):
    """Base of the traces: one object by code, everything else prefetched."""

    permission_classes = [HasViewPermissions]
    required_permissions = _TRACE_PERMISSIONS
    pagination_class = None
    filter_backends = []
    lookup_field = "code"

    def get_trace_object(self, code):
        return get_object_or_404(self.get_queryset().for_user(self.request.user), code=code)

    def get(self, request, code):
        return Response(self.get_serializer(self.get_trace_object(code)).data)
