"""`flush`, aware that the audit tables refuse DELETE and TRUNCATE.

Django's test framework flushes the test database after every transactional test; the
append-only triggers would refuse that. On a test database the triggers are suspended
for the flush and put back after. On any other database a flush would erase the audit
trail with everything else, and is refused.
"""

from django.core.management import CommandError
from django.core.management.commands.flush import Command as FlushCommand
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.creation import TEST_DATABASE_PREFIX

from audit.triggers import triggers_suspended


def is_test_database(connection) -> bool:
    """The database Django's test runner made (named test_…, or SQLite in memory)."""
    name = str(connection.settings_dict["NAME"])
    return name.startswith(TEST_DATABASE_PREFIX) or name.startswith("file:memorydb_")


class Command(FlushCommand):
    help = FlushCommand.help + " Refused outside a test database: it would erase the audit trail."

    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if not is_test_database(connection):
            raise CommandError(
                "flush would erase the audit trail, which is kept for 30 years; refused. "
                "To start a development database afresh, delete it and run migrate."
            )
        with triggers_suspended(connection):
            return super().handle(**options)
