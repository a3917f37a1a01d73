"""Backup and restore of the whole database, behind `manage.py backup` / `restore`.

SQLite: the online backup API (a consistent copy while the application runs).
PostgreSQL: `pg_dump -Fc` / `pg_restore` (the client tools must be installed, and not older
than the server). Beside FILE, `FILE.manifest.json` records the vendor, the time and the
migration state; `restore` refuses a target database that is not empty, and a backup whose
migrations differ from the code's (restore with the version of CellTrack that made it).

`dumpdata`/`loaddata` is not a backup: it re-saves rows through the ORM, which the
append-only trail refuses, and it loses the chain's exact text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

MANIFEST_FORMAT = "celltrack-backup/1"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def manifest_path(path: str | Path) -> Path:
    return Path(f"{path}.manifest.json")


def code_migrations(connection) -> list[list[str]]:
    """Every migration of the code on disk, as sorted [app, name] pairs."""
    loader = MigrationLoader(connection, ignore_no_migrations=True, load=True)
    return sorted([app, name] for app, name in loader.disk_migrations)


def applied_migrations(connection) -> list[list[str]]:
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    return sorted([app, name] for app, name in loader.applied_migrations)


def database_is_empty(connection) -> bool:
    with connection.cursor() as cursor:
        return not connection.introspection.table_names(cursor)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} was not found: install the PostgreSQL client tools (the package "
            "postgresql-client of the server's major version) and try again."
        )
    return path


def _major_of_tool(path: str) -> int:
    out = subprocess.run(  # noqa: S603  (a tool found on PATH, fixed arguments)
        [path, "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise BackupError(f"Cannot read the version of {path}: {out!r}")
    return int(match.group(1))


def _pg_tool(name: str, connection) -> str:
    path = _tool(name)
    tool_major = _major_of_tool(path)
    connection.ensure_connection()
    server_major = connection.pg_version // 10000
    if tool_major < server_major:
        raise BackupError(
            f"{name} is version {tool_major} but the server is PostgreSQL {server_major}: "
            f"install the client tools of version {server_major} or newer."
        )
    return path


def _pg_args(connection) -> tuple[list[str], dict]:
    settings = connection.settings_dict
    args = []
    if settings.get("HOST"):
        args += ["-h", settings["HOST"]]
    if settings.get("PORT"):
        args += ["-p", str(settings["PORT"])]
    if settings.get("USER"):
        args += ["-U", settings["USER"]]
    env = {**os.environ}
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = settings["PASSWORD"]
    return args, env


def _run(command: list[str], env: dict) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")


def backup(path: str | Path, *, using: str = "default") -> dict:
    """Write a backup of the database to `path` and its manifest beside it."""
    connection = connections[using]
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} exists already: a backup never overwrites one.")
    applied = applied_migrations(connection)
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    elif connection.vendor == "postgresql":
        pg_dump = _pg_tool("pg_dump", connection)
        args, env = _pg_args(connection)
        _run([pg_dump, "-Fc", "--no-owner", *args, "-f", str(path),
              connection.settings_dict["NAME"]], env)  # fmt: skip
    else:
        raise BackupError(f"No backup for the {connection.vendor} database.")
    manifest = {
        "format": MANIFEST_FORMAT,
        "vendor": connection.vendor,
        "created_at": timezone.now().isoformat(),
        "database": str(connection.settings_dict["NAME"]),
        "migrations": applied,
    }
    manifest_path(path).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def read_manifest(path: str | Path) -> dict:
    manifest_file = manifest_path(path)
    if not Path(path).is_file():
        raise BackupError(f"{path} is not a file.")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(
            f"Cannot read {manifest_file} (the manifest written beside every backup): {exc}"
        ) from exc
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{manifest_file} is not a CellTrack backup manifest.")
    return manifest


def restore(path: str | Path, *, using: str = "default") -> dict:
    """Restore `path` into the (empty) database; refuses anything else."""
    connection = connections[using]
    manifest = read_manifest(path)
    if manifest["vendor"] != connection.vendor:
        raise BackupError(
            f"{path} is a {manifest['vendor']} backup; this database is {connection.vendor}."
        )
    if not database_is_empty(connection):
        raise BackupError(
            "The database is not empty: restore only into a new, empty database (create "
            "it, do not migrate it), so that nothing of it mixes with the backup."
        )
    ours = code_migrations(connection)
    theirs = sorted(manifest["migrations"])
    if ours != theirs:
        missing = [f"{a}.{n}" for a, n in theirs if [a, n] not in ours][:5]
        extra = [f"{a}.{n}" for a, n in ours if [a, n] not in theirs][:5]
        raise BackupError(
            "The backup's migrations differ from this code's: restore it with the version "
            "of CellTrack that made it, then migrate. "
            f"Only in the backup: {missing or 'none'}; only in the code: {extra or 'none'}."
        )
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    else:
        pg_restore = _pg_tool("pg_restore", connection)
        args, env = _pg_args(connection)
        _run([pg_restore, "--no-owner", "--exit-on-error", "--single-transaction", *args,
              "-d", connection.settings_dict["NAME"], str(path)], env)  # fmt: skip
    connection.close()
    # Users, groups and memberships were replaced behind the ORM: no cached entry holds.
    from core.access import access_changed

    access_changed()
    return manifest
