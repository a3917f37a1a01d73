"""Settings come from the environment; a production configuration passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "-a-long-random-production-secret-0123456789",
        ALLOWED_HOSTS="celltrack.hospital.example",
        AUDIT_CHECKPOINT_KEY="throwaway-test-checkpoint-key",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_without_an_audit_checkpoint_key():
    result = _manage(
        "check",
        "--deploy",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "-a-long-random-production-secret-0123456789",
        ALLOWED_HOSTS="celltrack.hospital.example",
        AUDIT_CHECKPOINT_KEY="",
    )
    assert result.returncode != 0
    assert "audit.E003" in result.stdout + result.stderr


def test_without_debug_a_missing_secret_key_stops_start_up():
    result = _manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("raw", ["yes please", "2", "tru"])
def test_a_boolean_setting_that_is_not_a_boolean_is_refused(monkeypatch, raw):
    monkeypatch.setenv("CELLTRACK_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="CELLTRACK_FLAG"):
        env_bool("CELLTRACK_FLAG")


def test_typed_settings_read_their_values(monkeypatch):
    monkeypatch.setenv("CELLTRACK_FLAG", "on")
    monkeypatch.setenv("CELLTRACK_N", "42")
    monkeypatch.setenv("CELLTRACK_HOSTS", "a.example, b.example,")
    assert env_bool("CELLTRACK_FLAG") is True
    assert env_int("CELLTRACK_N", 0) == 42
    assert env_list("CELLTRACK_HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.setenv("CELLTRACK_N", "forty")
    with pytest.raises(ImproperlyConfigured, match="CELLTRACK_N"):
        env_int("CELLTRACK_N", 0)
