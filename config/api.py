"""The auditor API's URL routes under /api/v1/ (see DESIGN.md, "Auditor API").

The paths are a contract with auditors' scripts: add, never rename.
"""

from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from audit.api import AuditEventViewSet
from batches.api import (
    BagViewSet,
    BatchViewSet,
    DonorViewSet,
    ReleaseCheckViewSet,
    ShipmentViewSet,
)
from core.api.auth import LoginView, LogoutView
from dosing.api import (
    AdverseEventViewSet,
    BagTraceView,
    DonorTraceView,
    DoseViewSet,
    InfusionViewSet,
    PatientTraceView,
    ProtocolViewSet,
)
from patients.api import PatientViewSet
from reports.api import CohortPatientsView, CohortReportView
from vigilance.api import ReactionReportViewSet, RecallViewSet

router = SimpleRouter()
router.register("donors", DonorViewSet, basename="donor")
router.register("batches", BatchViewSet, basename="batch")
router.register("bags", BagViewSet, basename="bag")
router.register("release-checks", ReleaseCheckViewSet, basename="release-check")
router.register("shipments", ShipmentViewSet, basename="shipment")
router.register("patients", PatientViewSet, basename="patient")
router.register("protocols", ProtocolViewSet, basename="protocol")
router.register("doses", DoseViewSet, basename="dose")
router.register("infusions", InfusionViewSet, basename="infusion")
router.register("adverse-events", AdverseEventViewSet, basename="adverse-event")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("recalls", RecallViewSet, basename="recall")
router.register("reaction-reports", ReactionReportViewSet, basename="reaction-report")

v1 = [
    path("auth/login/", LoginView.as_view(), name="login"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("trace/donors/<str:code>/", DonorTraceView.as_view(), name="trace-donor"),
    path("trace/patients/<str:code>/", PatientTraceView.as_view(), name="trace-patient"),
    path("trace/bags/<str:code>/", BagTraceView.as_view(), name="trace-bag"),
    path("reports/cohort/", CohortReportView.as_view(), name="report-cohort"),
    path("reports/cohort/patients/", CohortPatientsView.as_view(), name="report-cohort-patients"),
    *router.urls,
]


def not_found(request, *args, **kwargs):
    """Unknown API paths answer JSON, like every other API error."""
    return JsonResponse({"detail": "Not found: no such API path."}, status=404)


urlpatterns = [
    path("v1/", include((v1, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own: no inline
    # script, so the Content-Security-Policy needs none.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Last: anything else under /api/ ending in "/" (paths without the slash still get
    # APPEND_SLASH's redirect first).
    re_path(r"^.*/$", not_found),
]
