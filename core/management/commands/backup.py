"""`manage.py backup FILE`: a consistent copy of the whole database, and its manifest."""

import time

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, backup, manifest_path


class Command(BaseCommand):
    help = (
        "Back up the database to FILE (SQLite online backup, or pg_dump -Fc) with "
        "FILE.manifest.json recording the migration state. Uses DATABASE_OWNER_URL when set."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Where to write the backup (must not exist).")

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            manifest = backup(options["file"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"backed up the {manifest['vendor']} database to {options['file']} "
            f"({len(manifest['migrations'])} migrations, manifest "
            f"{manifest_path(options['file'])}) in {time.perf_counter() - started:.1f} s"
        )
