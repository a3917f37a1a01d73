"""The dispensing sheet, included by config/urls.py as
`path("pharmacy/dose/<int:pk>/sheet.pdf", include("labels.sheet_urls"))` before dosing's
/pharmacy/ pages; reverse it as "labels-sheet:dispensing-sheet"."""

from django.urls import path

from labels import views

app_name = "labels-sheet"

urlpatterns = [
    path("", views.dispensing_sheet, name="dispensing-sheet"),
]
