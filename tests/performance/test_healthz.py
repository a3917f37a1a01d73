"""/healthz answers in two queries (the database, a read of the cache) between the cache
probe's writes, and still fails when the cache does not answer."""

from unittest import mock

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import views

pytestmark = pytest.mark.django_db

OK = {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.fixture(autouse=True)
def fresh_probe(monkeypatch):
    monkeypatch.setattr(views, "_probe", {"value": None, "until": 0.0})


def test_a_second_check_only_reads_the_cache_back():
    client = Client()
    assert client.get("/healthz").json() == OK
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/healthz").json() == OK
    writes = [q["sql"] for q in queries.captured_queries if "SELECT" not in q["sql"].upper()]
    # The database cache (the default without Redis): SELECT 1 and one read of the probe.
    if caches["default"].__class__.__name__ == "DatabaseCache":
        assert len(queries.captured_queries) == 2 and not writes


def test_a_flushed_cache_is_written_again_not_reported_down():
    client = Client()
    assert client.get("/healthz").json() == OK
    caches["default"].clear()
    assert client.get("/healthz").json() == OK


def test_a_cache_that_does_not_answer_fails_the_check():
    client = Client()
    assert client.get("/healthz").json() == OK
    with mock.patch.object(caches["default"].__class__, "get", side_effect=OSError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "ok", "cache": "error"}


def test_a_cache_that_loses_what_is_written_fails_the_check():
    client = Client()
    with mock.patch.object(caches["default"].__class__, "set", lambda *args, **kwargs: None):
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["cache"] == "error"
