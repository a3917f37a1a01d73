"""Patient pages, mounted at /pharmacy/patients/ (namespace "patients")."""

from django.urls import path

from patients import views

app_name = "patients"

urlpatterns = [
    path("", views.patient_list, name="patient-list"),
    path("new/", views.patient_register, name="patient-register"),
    path("<str:code>/eligibility/", views.patient_eligibility, name="patient-eligibility"),
    path("<str:code>/observations/", views.patient_observations, name="patient-observations"),
    path("<str:code>/weight/", views.patient_weight, name="patient-weight"),
    path("<str:code>/correct/", views.patient_correct, name="patient-correct"),
]
