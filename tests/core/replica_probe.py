"""Run by `tests/core/test_replica.py` in a subprocess, with DATABASE_URL (a fresh primary)
and DATABASE_REPLICA_URL (its streaming standby) set: migrates, writes through the
services, reads through the API and /healthz, and prints what it saw as one JSON line.

Not a test module itself (pytest does not collect it): it needs servers of its own.
"""

import datetime
import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import DatabaseError, connections, router  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

PASSWORD = "correct-horse-battery-staple"
WAIT_SECONDS = 15


def _until(check, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.1)


def _replica_sql(sql: str):
    with connections["replica"].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def _new_donor(code: str, facility):
    from audit.context import Origin, audit_context
    from batches.services.donors import create_donor

    with audit_context(actor=None, reason="replica probe", origin=Origin.TEST):
        return create_donor(
            actor=None,
            code=code,
            facility=facility,
            age_at_donation=34,
            sex="F",
            consent_for_clinical_use=True,
            consent_signed_on=datetime.date(2026, 3, 1),
        )


def _auditor():
    from audit.context import Origin, audit_context
    from tests.factories.sites import site_member

    with audit_context(actor=None, reason="replica probe", origin=Origin.TEST):
        user = User.objects.create_user("auditor-probe", password=PASSWORD)
        user.groups.add(Group.objects.get(name="auditor"))
        site_member(user, "network")
    return user


def _health(client) -> dict:
    return client.get("/healthz").json()


def main() -> dict:
    from knox.models import AuthToken

    from audit.models import AuditEvent
    from batches.models import Donor
    from tests.factories.batches import FacilityFactory

    setup_test_environment()
    seen = {}
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    call_command("migrate", verbosity=0, interactive=False)
    call_command("createcachetable", verbosity=0)
    seen["write_db"] = router.db_for_write(Donor)
    seen["migrate_on_replica"] = router.allow_migrate("replica", "batches", model_name="donor")
    seen["read_outside_a_request"] = router.db_for_read(Donor)

    facility = FacilityFactory(fin="E0001")
    auditor = _auditor()
    _, token = AuthToken.objects.create(user=auditor)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")

    with connections["replica"].execute_wrapper(record):
        _new_donor("DON-0001", facility)
        _until(
            lambda: client.get("/api/v1/donors/DON-0001/").status_code == 200,
            "the first donor on the replica",
        )
        with (
            CaptureQueriesContext(connections["replica"]) as on_replica,
            CaptureQueriesContext(connections["default"]) as on_primary,
        ):
            answer = client.get("/api/v1/donors/DON-0001/")
        seen["first_donor"] = {
            "status": answer.status_code,
            "replica_read_the_donor": any(
                '"batches_donor"' in q["sql"] for q in on_replica.captured_queries
            ),
            "primary_read_the_donor": any(
                '"batches_donor"' in q["sql"] for q in on_primary.captured_queries
            ),
        }

        _replica_sql("SELECT pg_wal_replay_pause()")
        _until(
            lambda: _replica_sql("SELECT pg_get_wal_replay_pause_state()")[0] != "not paused",
            "the replay to pause",
        )
        _new_donor("DON-0002", facility)
        paused = {"auditor_status": client.get("/api/v1/donors/DON-0002/").status_code}
        paused["health"] = _until(
            lambda: (h := _health(client))["replica"]["lag_seconds"] and h,
            "the replica's lag to show",
        )
        out = io.StringIO()
        call_command("verify_audit", "--json", stdout=out, stderr=io.StringIO())
        paused["verified_events"] = json.loads(out.getvalue())["count"]
        paused["primary_events"] = AuditEvent.objects.using("default").count()
        paused["replica_events"] = AuditEvent.objects.using("replica").count()

        login = Client().post(
            "/api/v1/auth/login/",
            {"username": "auditor-probe", "password": PASSWORD},
            content_type="application/json",
        )
        assert login.status_code == 200, login.content
        again = Client(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
        paused["after_own_write_status"] = again.get("/api/v1/donors/DON-0002/").status_code
        time.sleep(settings.REPLICA_STICKY_SECONDS + 0.5)
        paused["after_sticky_seconds_status"] = again.get("/api/v1/donors/DON-0002/").status_code
        seen["paused"] = paused

        _replica_sql("SELECT pg_wal_replay_resume()")
        seen["resumed"] = {
            "status": _until(
                lambda: (s := client.get("/api/v1/donors/DON-0002/").status_code) == 200 and s,
                "the second donor on the replica",
            ),
            "health": _until(
                lambda: (h := _health(client))["replica"]["lag_seconds"] == 0 and h,
                "the replica to catch up",
            ),
        }

    seen["statements_on_replica"] = len(statements)
    # Reads, and the read-only snapshot a reconciliation opens, are not writes.
    seen["writes_on_replica"] = [
        sql
        for sql in statements
        if not sql.lstrip().upper().startswith(("SELECT", "WITH"))
        and not (sql.lstrip().upper().startswith("SET TRANSACTION") and "READ ONLY" in sql.upper())
    ]
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute("CREATE TABLE replica_probe (id integer)")
        seen["write_on_replica_refused"] = ""
    except DatabaseError as exc:
        seen["write_on_replica_refused"] = str(exc)
    return seen


if __name__ == "__main__":
    print(json.dumps(main(), default=str))
