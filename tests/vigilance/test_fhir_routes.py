"""Where the FHIR server sits: its own routes, before the API's catch-all, outside the
/api/v1 OpenAPI schema."""

import pytest
from django.urls import resolve

from tests.api.test_schema import generated_schema


@pytest.mark.django_db
def test_openapi_schema_has_no_fhir_path():
    paths = generated_schema()["paths"]

    assert paths  # the /api/v1 collections are there
    assert not [path for path in paths if "fhir" in path.lower()]


def test_fhir_paths_resolve_to_the_fhir_views_not_the_api_catch_all():
    for path in ("/api/fhir/metadata", "/api/fhir/Patient/", "/api/fhir/Procedure/12"):
        assert resolve(path).namespace == "fhir", path
