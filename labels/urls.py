"""Labels under /labels/ (namespace "labels"). The dispensing sheet is a pharmacy page:
`labels.sheet_urls`, included by config/urls.py at /pharmacy/dose/<pk>/sheet.pdf."""

from django.urls import path

from labels import views

app_name = "labels"

urlpatterns = [
    path("bag-labels/<str:ids>.pdf", views.selected_bag_labels, name="bags"),
    path("bags/<str:code>.pdf", views.bag_label, name="bag"),
    path("batches/<str:code>.pdf", views.batch_labels, name="batch"),
    path("storage/<int:pk>.pdf", views.storage_position_label, name="storage-position"),
    path("storage/<str:tank>/<str:rack>.pdf", views.storage_rack_label, name="storage-rack"),
    path(
        "storage/<str:tank>/<str:rack>/<str:box>.pdf",
        views.storage_box_labels,
        name="storage-box",
    ),
    path("patients/<str:code>/wristband.pdf", views.wristband_label, name="wristband"),
]
