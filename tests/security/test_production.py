"""Production pieces that need no server: /healthz, the JSON request log, `make serve`'s
check of its environment, static file names."""

import json
import logging
import os
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from config.logging import JsonFormatter, WithoutPaths

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_answers_json_anonymously_over_plain_http(settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get("/healthz")  # not secure: exempt from the HTTPS redirect

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert Client().get("/pharmacy/").status_code == 301  # everything else is redirected


@pytest.mark.django_db
def test_one_json_line_per_request_with_the_pattern_never_the_path(caplog, auditor):
    from knox.models import AuthToken

    _, token = AuthToken.objects.create(user=auditor)
    client = Client(headers={"Authorization": f"Token {token}", "X-Request-ID": "req-12345678"})
    with caplog.at_level(logging.INFO, logger="celltrack.request"):
        response = client.get("/api/v1/trace/patients/SAL-P01/?format=json")

    records = [r for r in caplog.records if r.name == "celltrack.request"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    entry = json.loads(line)
    assert entry["method"] == "GET"
    assert entry["route"] == "api/v1/trace/patients/<str:code>/"
    assert entry["status"] == response.status_code
    assert entry["user_id"] == auditor.pk
    assert entry["request_id"] == "req-12345678" == response["X-Request-ID"]
    assert entry["duration_ms"] >= 0
    assert "SAL-P01" not in line and token not in line and "\n" not in line


@pytest.mark.django_db
def test_djangos_own_request_warnings_name_the_pattern_not_the_path(caplog, pharmacist):
    client = Client()
    client.force_login(pharmacist)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get("/pharmacy/patients/SAL-P99/")

    record = next(r for r in caplog.records if r.name == "django.request")
    WithoutPaths().filter(record)
    assert "SAL-P99" not in JsonFormatter().format(record)


@pytest.mark.parametrize(
    "missing", ["DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "AUDIT_CHECKPOINT_KEY"]
)
def test_make_serve_names_a_missing_setting(missing):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "AUDIT_CHECKPOINT_KEY"}
    }
    env |= {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
        "SECRET_KEY": "k",
        "ALLOWED_HOSTS": "h",
        "AUDIT_CHECKPOINT_KEY": "c",
    }
    del env[missing]
    result = subprocess.run(
        ["make", "-s", "serve-check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"set {missing} in the environment" in result.stderr


def test_make_serve_wants_postgresql():
    env = os.environ | {
        "DATABASE_URL": "sqlite:///db.sqlite3",
        "SECRET_KEY": "k",
        "ALLOWED_HOSTS": "h",
        "AUDIT_CHECKPOINT_KEY": "c",
    }
    result = subprocess.run(
        ["make", "-s", "serve-check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "must be a PostgreSQL URL" in result.stderr


def test_static_names_stay_plain_where_nothing_was_collected(settings, tmp_path):
    from core.storage import CollectedStaticFilesStorage

    storage = CollectedStaticFilesStorage(location=tmp_path)
    assert storage.url("core/celltrack.css") == "/static/core/celltrack.css"
