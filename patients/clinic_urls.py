"""The clinician's pages of the clinical course, under /clinic/ (namespace "record")."""

from django.urls import path

from patients import cohort_views

app_name = "record"

urlpatterns = [
    path("patient/<str:code>/record/", cohort_views.clinical_record, name="clinical-record"),
]
