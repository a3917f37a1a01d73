"""PostgreSQL: the application's role, which does not own the tables, cannot disable the
trail's triggers nor change or remove an event, yet appends as usual."""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from audit.triggers import app_role_grants
from audit.writer import write_event

pytestmark = pytest.mark.django_db

REFUSED = [
    "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_auditevent_append_only ON audit_auditevent",
    "UPDATE audit_auditevent SET reason = 'rewritten'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
    "ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER ALL",
    "DELETE FROM audit_auditcheckpoint",
]


@pytest.fixture
def app_role():
    if connection.vendor != "postgresql":
        pytest.skip("database roles: PostgreSQL only")
    role = f"celltrack_app_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        for statement in app_role_grants(role):
            cursor.execute(statement)
    yield role
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute(f"DROP OWNED BY {role}")
        cursor.execute(f"DROP ROLE {role}")


@pytest.mark.parametrize("statement", REFUSED)
def test_the_application_role_is_refused(app_role, system_context, statement):
    write_event(action="update", object_type="tests.synthetic", object_id="1")
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {app_role}")
        try:
            with (
                pytest.raises(DatabaseError, match="permission denied|must be owner"),
                transaction.atomic(),
            ):
                cursor.execute(statement)
        finally:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.filter(reason="rewritten").count() == 0


def test_the_application_role_appends_to_the_trail(app_role, system_context):
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {app_role}")
        try:
            write_event(action="update", object_type="tests.synthetic", object_id="2")
        finally:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.filter(object_id="2").exists()
