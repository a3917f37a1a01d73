"""`manage.py verify_audit`: recompute the audit chain offline; non-zero exit if broken.

verify_audit                         check the chain and every stored checkpoint
verify_audit --checkpoint            then sign and store the head as a new checkpoint
verify_audit --export FILE           write every checkpoint to FILE (JSON) for the inspector
verify_audit --checkpoint-file FILE  also check against checkpoints exported earlier
verify_audit --json                  print the result as JSON (for scripts)
"""

import json

from django.core.management.base import BaseCommand, CommandError

from audit.checkpoints import (
    CheckpointError,
    checkpoint_key,
    export_checkpoints,
    load_checkpoint_file,
    record_checkpoint,
)
from audit.verify import verify_chain


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain and check it against signed checkpoints."

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            action="store_true",
            help="After a successful check, record the head as an HMAC-signed checkpoint "
            "(needs AUDIT_CHECKPOINT_KEY).",
        )
        parser.add_argument(
            "--export", metavar="FILE", help="Write every checkpoint to FILE as JSON."
        )
        parser.add_argument(
            "--checkpoint-file",
            metavar="FILE",
            action="append",
            default=[],
            help="Also verify against checkpoints exported to FILE (repeatable).",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        try:
            if options["checkpoint"]:
                checkpoint_key()  # refuse before the (long) check when there is no key
            extra = [
                record
                for path in options["checkpoint_file"]
                for record in load_checkpoint_file(path)
            ]
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc

        result = verify_chain(checkpoints=True, extra_checkpoints=extra)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            for note in result.notes:
                self.stderr.write(f"note: {note}")
            self.stdout.write(result.summary())
            self.stderr.write(
                f"verified in {result.seconds:.2f} s "
                f"({result.count / result.seconds if result.seconds else 0:,.0f} events/s)"
            )
        if not result.intact:
            raise CommandError(f"audit trail broken: {result.reason}")

        try:
            if options["checkpoint"]:
                checkpoint = record_checkpoint(recorded_by="verify_audit")
                self.stdout.write(
                    f"checkpoint recorded at event {checkpoint.seq} ({checkpoint.event_hash})"
                )
            if options["export"]:
                count = export_checkpoints(options["export"])
                self.stdout.write(f"exported {count} checkpoints to {options['export']}")
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
