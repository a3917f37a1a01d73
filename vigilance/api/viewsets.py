"""The vigilance collections: recalls (lookback, exposed patients) and reaction reports."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.export import stream_csv
from core.api.pagination import StableCursorPagination
from core.api.permissions import HasViewPermissions, ReadModelPermissions
from core.api.viewsets import AuditorViewSet
from vigilance.api.serializers import (
    ExposedPatientSerializer,
    ReactionReportSerializer,
    RecallSerializer,
)
from vigilance.filters import ReactionReportFilterSet, RecallFilterSet
from vigilance.models import ReactionReport, Recall
from vigilance.services.lookback import LOOKBACK_PERMISSIONS, exposed_patients, lookback

PATIENT_LEVEL = [ReadModelPermissions, HasViewPermissions]


class ByPatientCode(StableCursorPagination):
    ordering = "code"


class RecallViewSet(AuditorViewSet):
    """Recalls of batches, each with its lookback (`/lookback/`, JSON) and its exposed
    patients (`/exposed-patients/`, a collection: `?format=csv` gives one row each)."""

    queryset = Recall.objects.select_related("batch", "batch__donor", "signature")
    serializer_class = RecallSerializer
    filterset_class = RecallFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "recalled_at"]
    csv_filename = "recalls"
    # The lookback and the exposed patients show patients: `HasViewPermissions` needs these.
    required_permissions = LOOKBACK_PERMISSIONS

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The lookback as one JSON object: recall, exposed_patients, "
        "stopped_doses, bags, donor, donor_other_batches.",
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=None,
        permission_classes=PATIENT_LEVEL,
    )
    def lookback(self, request, pk=None):
        """Every exposed patient (doses, infusion dates, adverse events), every bag's
        whereabouts, the stopped doses and the donor's other batches."""
        return Response(lookback(self.get_object(), request.user))

    @action(
        detail=True,
        methods=["get"],
        url_path="exposed-patients",
        serializer_class=ExposedPatientSerializer,
        filter_backends=[],
        pagination_class=ByPatientCode,
        permission_classes=PATIENT_LEVEL,
    )
    def exposed_patients(self, request, pk=None):
        recall = self.get_object()
        patients = exposed_patients(recall, request.user)
        if getattr(request.accepted_renderer, "format", None) == "csv":
            return stream_csv(
                patients,
                ExposedPatientSerializer,
                context=self.get_serializer_context(),
                filename=f"exposed-patients-{recall.code}",
            )
        page = self.paginate_queryset(patients)
        return self.get_paginated_response(ExposedPatientSerializer(page, many=True).data)


class ReactionReportViewSet(AuditorViewSet):
    """Serious adverse reaction notifications (Directive 2006/86/EC, Annex II), parts A
    and B with who signed each."""

    queryset = ReactionReport.objects.select_related(
        "adverse_event__patient", "part_a_signature", "part_b_signature"
    )
    serializer_class = ReactionReportSerializer
    filterset_class = ReactionReportFilterSet
    ordering = ["id"]
    ordering_fields = ["id", "reporting_date"]
    csv_filename = "reaction-reports"
