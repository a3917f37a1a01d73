"""Vigilance pages under /vigilance/ (namespace "vigilance")."""

from django.urls import path

from vigilance import views

app_name = "vigilance"

urlpatterns = [
    path("recalls/", views.recall_list, name="recalls"),
    path("recalls/<int:pk>/", views.recall_lookback, name="lookback"),
    path("notices/<int:pk>/acknowledge/", views.notice_acknowledge, name="notice-acknowledge"),
    path("reactions/event/<int:event_pk>/", views.part_a, name="part-a"),
    path("reactions/<int:pk>/", views.report_detail, name="report"),
    path("reactions/<int:pk>/part-b/", views.part_b, name="part-b"),
    path("reactions/<int:pk>/part-<str:part>.pdf", views.report_pdf, name="report-pdf"),
]
