"""The auditor API's URL routes under /api/v1/ (see DESIGN.md, "Auditor API")."""

urlpatterns: list = []
