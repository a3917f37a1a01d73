"""Pharmacy pages under /pharmacy/ (namespace "dosing")."""

from django.urls import path

from dosing import views
from dosing.views import shipments

app_name = "dosing"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("patient/<str:code>/", views.patient_detail, name="patient-detail"),
    path("patient/<str:code>/order/", views.dose_order, name="dose-order"),
    path("dose/<int:pk>/", views.dose_detail, name="dose-detail"),
    path("bag/<str:code>/", views.bag_timeline, name="bag-timeline"),
    path("dose/<int:pk>/allocate/", views.dose_allocate, name="dose-allocate"),
    path("dose/<int:pk>/prepare/", views.dose_prepare, name="dose-prepare"),
    path("dose/<int:pk>/dispense/", views.dose_dispense, name="dose-dispense"),
    path("dose/<int:pk>/cancel/", views.dose_cancel, name="dose-cancel"),
    path("shipments/", shipments.shipment_list, name="shipment-list"),
    path("shipments/request/", shipments.shipment_request, name="shipment-request"),
    path("shipments/<str:code>/receive/", shipments.shipment_receive, name="shipment-receive"),
]
