"""Output that cannot break or mislead: null locations, control characters in paths,
spreadsheet formulas in CSV cells."""

import csv
import io
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from batches.models import Bag
from core.api.export import neutralise
from tests.api.conftest import make_batch
from tests.factories import BagFactory

pytestmark = pytest.mark.django_db


def _csv_rows(response):
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _bag_out_of_storage(**extra):
    batch = make_batch(bags=0, checks=0)
    return BagFactory(batch=batch, location=None, status=Bag.Status.DISPENSED, **extra)


def test_location_is_null_for_a_bag_out_of_storage_in_the_api(auditor_client):
    bag = _bag_out_of_storage()

    (row,) = auditor_client.get("/api/v1/bags/").json()["results"]

    assert row["code"] == bag.code
    assert row["location"] is None


def test_location_is_empty_for_a_bag_out_of_storage_in_the_csv(auditor_client):
    _bag_out_of_storage()

    (row,) = _csv_rows(auditor_client.get("/api/v1/bags/", {"format": "csv"}))

    assert row["location"] == ""


def test_location_is_null_for_a_bag_out_of_storage_in_the_trace(auditor_client):
    bag = _bag_out_of_storage()

    body = auditor_client.get(f"/api/v1/trace/bags/{bag.code}/").json()

    assert body["location"] is None


def test_location_of_a_stored_bag_is_its_position(auditor_client):
    batch = make_batch(bags=1, checks=0)
    bag = batch.bags.get()

    (row,) = auditor_client.get("/api/v1/bags/").json()["results"]

    assert row["location"] == str(bag.location)
    assert "method-wrapper" not in row["location"]


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "-cmd|'/C calc'!A0"],
)
def test_formula_starts_are_neutralised(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["-1.5", "+2", "-3", "1e6", "-2.5E-3", "SAL-P01", "ok = 1"])
def test_numbers_and_plain_text_stay_as_they_are(text):
    assert neutralise(text) == text


def test_csv_export_neutralises_a_formula_in_a_text_field(auditor_client):
    _bag_out_of_storage(discard_reason='=HYPERLINK("http://evil","click")')

    (row,) = _csv_rows(auditor_client.get("/api/v1/bags/", {"format": "csv"}))

    assert row["discard_reason"] == '\'=HYPERLINK("http://evil","click")'
    assert row["nominal_cells"] == "60000000"


def test_csv_of_one_object_neutralises_a_formula(auditor_client):
    bag = _bag_out_of_storage(discard_reason="@SUM(1+1)")

    response = auditor_client.get(f"/api/v1/bags/{bag.code}/", {"format": "csv"})

    rows = dict(csv.reader(io.StringIO(response.content.decode())))
    assert rows["discard_reason"] == "'@SUM(1+1)"


# --- control characters in paths ------------------------------------------------------


def _routes(resolver=None, prefix=""):
    """Every URL pattern, as (route regex text, pattern) — the resolver walked."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_REGEX_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")


def _with_code(route: str, code: str) -> str | None:
    """A path for `route` with every text parameter set to `code` (None when the route
    takes no text parameter: a NUL cannot reach it as a code)."""
    if route.startswith("^") or "(?P" in route:
        # Regex routes (the admin's, the API's catch-all): every group gets the code.
        if "(?P" not in route:
            return None
        path = _REGEX_GROUP.sub(code, route.lstrip("^").rstrip("$"))
        path = path.replace("\\", "")
        return "/" + path
    converters = _PARAM.findall(route)
    if not any(kind in ("", "str", "slug", "path") for kind, _ in converters):
        return None

    def value(match):
        return "1" if match.group(1) == "int" else code

    return "/" + _PARAM.sub(value, route)


def _text_routes():
    paths = sorted({p for route in _routes() if (p := _with_code(route, "A%00B")) is not None})
    assert len(paths) > 5
    return paths


@pytest.mark.parametrize("char", ["%00", "%01", "%0A", "%1F", "%7F"])
def test_a_control_character_in_an_api_code_is_a_json_404(auditor_client, char):
    response = auditor_client.get(f"/api/v1/trace/bags/A{char}B/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_every_route_with_a_code_answers_404_to_a_nul(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="x-Pass-9911")
    client.force_login(admin)
    failures = []
    for path in _text_routes():
        response = client.get(path)
        api = path.startswith("/api/")
        ok = response.status_code == 404 and (
            response["Content-Type"].startswith("application/json") == api
        )
        if not ok:
            failures.append((path, response.status_code, response["Content-Type"]))
    assert failures == []
