"""The OpenAPI schema: generated without warnings, every field described, served locally,
and the API keeps to it under Schemathesis (no 5xx, responses that match the schema)."""

import json
from io import StringIO

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import make_batch


def generated_schema() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(schema, default=str))


@pytest.mark.django_db
def test_schema_generates_and_validates_without_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (an untyped field, an
    # unresolvable serializer) into a failure; --validate checks it against OpenAPI 3.
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        stdout=StringIO(),
        stderr=StringIO(),
    )


def test_every_schema_property_and_parameter_is_typed_and_described():
    schema = generated_schema()
    missing = []
    for name, component in schema["components"]["schemas"].items():
        for prop, spec in component.get("properties", {}).items():
            if name.startswith("Paginated"):
                continue
            if "description" not in spec:
                missing.append(f"{name}.{prop}: no description")
            if not ({"type", "$ref", "allOf", "oneOf", "anyOf", "enum"} & set(spec)):
                missing.append(f"{name}.{prop}: no type")
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if not parameter.get("description"):
                    missing.append(f"{method.upper()} {path} ?{parameter['name']}")
    assert missing == []


@pytest.mark.django_db
def test_schema_and_docs_need_an_account_and_use_no_cdn(auditor):
    assert APIClient().get("/api/schema/").status_code in (401, 403)

    client = APIClient()
    client.force_login(auditor)
    docs = client.get("/api/docs/")

    assert docs.status_code == 200
    page = docs.content.decode()
    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert client.get("/api/schema/", {"format": "json"}).status_code == 200


# --- Schemathesis: property-based requests against the WSGI app -------------------------

schema = schemathesis.openapi.from_dict(generated_schema()).exclude(
    # Logging out would revoke the token the other operations use.
    path="/api/v1/auth/logout/"
)
schema.app = get_wsgi_application()


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the database connection around each request (as Django's
    test client avoids doing); that would end the test's transaction on PostgreSQL."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auditor_token(auditor, qp_user, keep_test_connection):
    make_batch(bags=2, checks=2, signer=qp_user)
    _, token = AuthToken.objects.create(user=auditor)
    return token


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=3,
    # The same examples on every run: CI must not pass or fail by the draw. Widen the
    # search locally by raising max_examples with derandomize off.
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_keeps_to_its_schema(case, auditor_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {auditor_token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
