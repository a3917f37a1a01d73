"""`manage.py backup` / `restore`: a backup of clinical data restores into an empty database
with every record, an intact chain and a clean reconciliation; restore refuses a database
that is not empty and a backup of other migrations."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from core.backup import manifest_path
from tests.audit.history import clinical_history

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, database_url):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url}
    env.pop("DATABASE_OWNER_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608  (our own tables)
            counts[table] = cursor.fetchone()[0]
    return counts


def _check_restored(database_url, counts, count_rows):
    result = _manage("verify_audit", "--json", database_url=database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    assert payload["intact"] is True
    assert payload["count"] == counts["audit_auditevent"]
    assert payload["reconciliation"]["clean"] is True
    assert payload["reconciliation"]["rows_checked"] > 10
    restored = count_rows()
    for table, n in counts.items():
        if table == "audit_reconciliationrun":
            continue  # the verify_audit just run adds its own
        if table == "celltrack_cache":
            continue  # a cache, not a record: the commands just run may fill it
        assert restored[table] == n, table


@pytest.mark.django_db(transaction=True)
def test_sqlite_backup_restores_into_an_empty_database(pharmacist, clinician, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite online backup; PostgreSQL is tested below")
    clinical_history(pharmacist, clinician)
    counts = _counts()
    backup = tmp_path / "celltrack.backup"

    call_command("backup", str(backup))

    manifest = json.loads(manifest_path(backup).read_text())
    assert manifest["vendor"] == "sqlite"
    assert ["audit", "0005_reconciliation_run"] in manifest["migrations"]
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", str(backup))

    target = tmp_path / "restored.sqlite3"
    url = f"sqlite:///{target}"
    result = _manage("restore", str(backup), database_url=url)
    assert result.returncode == 0, result.stderr

    def count_rows():
        with sqlite3.connect(target) as db:
            return {
                table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
                for table in counts
            }

    _check_restored(url, counts, count_rows)

    again = _manage("restore", str(backup), database_url=url)
    assert again.returncode != 0
    assert "The database is not empty" in again.stderr


@pytest.mark.django_db
def test_restore_refuses_a_backup_of_other_migrations(tmp_path):
    backup = tmp_path / "old.backup"
    sqlite3.connect(backup).close()
    vendor = connection.vendor
    manifest_path(backup).write_text(
        json.dumps(
            {
                "format": "celltrack-backup/1",
                "vendor": vendor,
                "created_at": "2026-01-01T00:00:00+00:00",
                "migrations": [["audit", "0001_initial"]],
            }
        )
    )
    target = tmp_path / "empty.sqlite3"
    result = _manage("restore", str(backup), database_url=f"sqlite:///{target}")
    if vendor == "sqlite":
        assert result.returncode != 0
        assert "migrations differ" in result.stderr
        assert "only in the code" in result.stderr


def test_restore_refuses_a_file_without_its_manifest(tmp_path):
    backup = tmp_path / "lonely.backup"
    backup.write_bytes(b"x")
    result = _manage("restore", str(backup), database_url=f"sqlite:///{tmp_path / 'e.sqlite3'}")
    assert result.returncode != 0
    assert "manifest" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_postgresql_backup_restores_into_an_empty_database(pharmacist, clinician, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump / pg_restore: PostgreSQL only")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("the PostgreSQL client tools (pg_dump, pg_restore) are not installed")
    clinical_history(pharmacist, clinician)
    counts = _counts()
    backup = tmp_path / "celltrack.dump"
    call_command("backup", str(backup))
    assert json.loads(manifest_path(backup).read_text())["vendor"] == "postgresql"

    name = f"restore_{uuid.uuid4().hex[:8]}"
    settings_dict = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        auth = settings_dict["USER"]
        if settings_dict.get("PASSWORD"):
            auth += f":{settings_dict['PASSWORD']}"
        url = (
            f"postgres://{auth}@{settings_dict['HOST'] or 'localhost'}:"
            f"{settings_dict['PORT'] or 5432}/{name}"
        )
        result = _manage("restore", str(backup), database_url=url)
        assert result.returncode == 0, result.stderr

        def count_rows():
            import psycopg

            with psycopg.connect(url) as db:
                return {
                    table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
                    for table in counts
                }

        _check_restored(url, counts, count_rows)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_names_missing_postgresql_client_tools(monkeypatch):
    from core import backup as module

    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    with pytest.raises(module.BackupError, match="pg_dump was not found: install"):
        module._tool("pg_dump")


def test_backup_refuses_client_tools_older_than_the_server(monkeypatch):
    from core import backup as module

    class FakeConnection:
        pg_version = 170002

        def ensure_connection(self):
            pass

    monkeypatch.setattr(module, "_tool", lambda name: "/usr/bin/pg_dump")
    monkeypatch.setattr(module, "_major_of_tool", lambda path: 15)
    with pytest.raises(module.BackupError, match="version 15 but the server is PostgreSQL 17"):
        module._pg_tool("pg_dump", FakeConnection())
