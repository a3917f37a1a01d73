"""The report pages under /reports/ (namespace "reports")."""

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("cohort/", views.cohort, name="cohort"),
    path("cohort/report.pdf", views.cohort_pdf, name="cohort-pdf"),
    path("cohort/chart/<str:name>.png", views.cohort_chart, name="cohort-chart"),
]
