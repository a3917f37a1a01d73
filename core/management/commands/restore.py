"""`manage.py restore FILE`: restore a backup into an empty database."""

import time

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into an empty database; refuses a "
        "database that is not empty or a backup whose migrations differ from the code's. "
        "Uses DATABASE_OWNER_URL when set. Run `verify_audit` after."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The backup file (with its .manifest.json beside).")

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            manifest = restore(options["file"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored {options['file']} (made {manifest['created_at']}) in "
            f"{time.perf_counter() - started:.1f} s; now run `manage.py verify_audit`."
        )
