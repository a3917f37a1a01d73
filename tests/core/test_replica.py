"""The read replica, on a real PostgreSQL primary and streaming standby made for the test.

The test builds both servers from the PostgreSQL binaries in a temporary folder (run as
the `postgres` system user, on ports of its own), then runs `tests/core/replica_probe.py`
in a subprocess with DATABASE_URL and DATABASE_REPLICA_URL pointing at them: the probe
migrates the primary, writes records through the services, reads them through the API as
an auditor, and reports what it saw (JSON), which is asserted here. Both servers are
stopped and the folder removed whatever happens.
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")
BINARIES = ("initdb", "pg_ctl", "pg_basebackup")
REPO = Path(__file__).resolve().parents[2]


def _skip_reason() -> str | None:
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        return "a PostgreSQL streaming replica: runs in the suite's PostgreSQL run"
    missing = [name for name in BINARIES if not (PG_BIN / name).exists()]
    if missing:
        return f"the PostgreSQL server binaries are missing: {', '.join(missing)} in {PG_BIN}"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no `postgres` system user to run the servers as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return "needs root or the postgres user to start PostgreSQL servers"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(*command, timeout=60):
    prefix = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
    return subprocess.run(
        [*prefix, *map(str, command)], check=True, capture_output=True, text=True, timeout=timeout
    )


def _configure(data: Path, port: int, sockets: Path):
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{sockets}'\n"
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
            "wal_receiver_status_interval = 1s\n"
            # A throwaway server: no durability, little memory.
            "fsync = off\nfull_page_writes = off\nshared_buffers = 16MB\nmax_connections = 30\n"
        )


@pytest.fixture
def primary_and_standby():
    folder = Path(tempfile.mkdtemp(prefix="celltrack-replica-"))
    postgres = pwd.getpwnam("postgres")
    os.chown(folder, postgres.pw_uid, postgres.pw_gid)
    primary, standby = folder / "primary", folder / "standby"
    ports = {"primary": _free_port(), "standby": _free_port()}
    started = []
    try:
        _as_postgres(
            PG_BIN / "initdb", "-D", primary, "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        _configure(primary, ports["primary"], folder)
        with (primary / "pg_hba.conf").open("a") as hba:
            hba.write("\nhost replication postgres 127.0.0.1/32 trust\n")
        _as_postgres(PG_BIN / "pg_ctl", "-D", primary, "-l", folder / "primary.log", "-w", "start")
        started.append(primary)
        _as_postgres(
            PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", ports["primary"],
            "-U", "postgres", "-D", standby, "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip
        with (standby / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {ports['standby']}\n")
        _as_postgres(PG_BIN / "pg_ctl", "-D", standby, "-l", folder / "standby.log", "-w", "start")
        started.append(standby)
        yield {
            name: f"postgres://postgres@127.0.0.1:{port}/postgres" for name, port in ports.items()
        }
    finally:
        for data in reversed(started):
            subprocess.run(
                ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data),
                 "-m", "immediate", "-w", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def test_replica_serves_the_auditor_and_never_takes_a_write(primary_and_standby):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "DATABASE_URL": primary_and_standby["primary"],
        "DATABASE_REPLICA_URL": primary_and_standby["standby"],
        "REPLICA_STICKY_SECONDS": "2",
        "REDIS_URL": "",
        "DATABASE_OWNER_URL": "",
    }
    run = subprocess.run(
        [sys.executable, str(REPO / "tests" / "core" / "replica_probe.py")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    # The router: writes and migrations to the primary only.
    assert seen["write_db"] == "default"
    assert seen["migrate_on_replica"] is False
    assert seen["read_outside_a_request"] == "default"

    # A donor written on the primary reaches the auditor, read from the replica.
    assert seen["first_donor"]["status"] == 200
    assert seen["first_donor"]["replica_read_the_donor"]
    assert not seen["first_donor"]["primary_read_the_donor"]

    # Replay paused: the second donor is on the primary only, so the auditor's API (on the
    # replica) does not have it yet, and /healthz shows the lag.
    assert seen["paused"]["auditor_status"] == 404
    assert seen["paused"]["health"]["status"] == "ok"
    assert seen["paused"]["health"]["replica"]["status"] == "ok"
    assert seen["paused"]["health"]["replica"]["lag_seconds"] > 0
    # verify_audit checked the replica's chain: the events the primary wrote since the
    # pause are not in it.
    assert seen["paused"]["verified_events"] < seen["paused"]["primary_events"]
    assert seen["paused"]["verified_events"] == seen["paused"]["replica_events"]

    # The auditor who just wrote (a token login) reads from the primary, and sees the
    # donor; once REPLICA_STICKY_SECONDS passed, from the replica again.
    assert seen["paused"]["after_own_write_status"] == 200
    assert seen["paused"]["after_sticky_seconds_status"] == 404

    # Replay resumed: the donor appears through the API once replicated, and no lag.
    assert seen["resumed"]["status"] == 200
    assert seen["resumed"]["health"]["replica"] == {"status": "ok", "lag_seconds": 0}

    # Nothing but reads reached the replica, and the standby refuses a write outright.
    assert seen["statements_on_replica"] > 0
    assert seen["writes_on_replica"] == []
    assert "read-only" in seen["write_on_replica_refused"]
