"""/api/fhir/: included in config/urls.py before the API's catch-all. No trailing slash
needed (one is accepted)."""

from django.urls import path, re_path

from vigilance.fhir.search import RESOURCE_TYPES
from vigilance.fhir.views import MetadataView, NotFoundView, ReadView, SearchView

app_name = "fhir"

_TYPES = "|".join(RESOURCE_TYPES)

urlpatterns = [
    path("", NotFoundView.as_view(), name="base"),
    re_path(r"^metadata/?$", MetadataView.as_view(), name="metadata"),
    re_path(rf"^(?P<resource_type>{_TYPES})/?$", SearchView.as_view(), name="search"),
    re_path(
        rf"^(?P<resource_type>{_TYPES})/(?P<resource_id>[A-Za-z0-9\-.]{{1,64}})/?$",
        ReadView.as_view(),
        name="read",
    ),
    re_path(r"^.*$", NotFoundView.as_view(), name="not-found"),
]
