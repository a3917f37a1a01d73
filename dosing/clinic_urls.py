"""Clinician pages under /clinic/ (namespace "clinic")."""

from django.urls import path

from dosing import views

app_name = "clinic"

urlpatterns = [
    path("", views.clinic_worklist, name="worklist"),
    path("dose/<int:pk>/scan/", views.bedside_scan, name="bedside-scan"),
    path("dose/<int:pk>/infusion/", views.infusion_record, name="infusion-record"),
    path("patient/<str:code>/adverse-event/", views.adverse_event_report, name="adverse-event"),
]
