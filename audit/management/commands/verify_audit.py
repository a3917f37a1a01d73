"""`manage.py verify_audit`: recompute the audit chain and reconcile the records with it
offline; non-zero exit if either fails.

verify_audit                         check the chain, every stored checkpoint, and that
                                     every audited row is what its trail says
verify_audit --no-reconcile          the chain only (fast)
verify_audit --checkpoint            then sign and store the head as a new checkpoint
verify_audit --export FILE           write every checkpoint to FILE (JSON) for the inspector
verify_audit --export-dir DIR        the same, to a new dated file in DIR (each run)
verify_audit --checkpoint-file FILE  also check against checkpoints exported earlier
verify_audit --checkpoint-dir DIR    also check against every file exported to DIR, and
                                     warn when the newest is too old
verify_audit --json                  print the result as JSON (for scripts)
"""

import json

from django.core.management.base import BaseCommand, CommandError

from audit.checkpoints import (
    CheckpointError,
    checkpoint_key,
    export_checkpoints,
    export_to_dir,
    load_checkpoint_dir,
    load_checkpoint_file,
    record_checkpoint,
    staleness_warning,
)
from audit.verify import verify_chain
from audit.verify.reconcile import reconcile, record_run
from core.db_router import reading_from_replica


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain, check it against signed checkpoints, and "
        "reconcile every audited record with its trail."
    )

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
            "--export-dir",
            metavar="DIR",
            help="Write every checkpoint to a new dated file in DIR (one per run).",
        )
        parser.add_argument(
            "--checkpoint-file",
            metavar="FILE",
            action="append",
            default=[],
            help="Also verify against checkpoints exported to FILE (repeatable).",
        )
        parser.add_argument(
            "--checkpoint-dir",
            metavar="DIR",
            action="append",
            default=[],
            help="Also verify against every checkpoint file exported to DIR (repeatable).",
        )
        parser.add_argument(
            "--no-reconcile",
            action="store_true",
            help="Skip the reconciliation of the records with the trail.",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        warnings = []
        try:
            if options["checkpoint"]:
                checkpoint_key()  # refuse before the (long) check when there is no key
            extra = [
                record
                for path in options["checkpoint_file"]
                for record in load_checkpoint_file(path)
            ]
            for directory in options["checkpoint_dir"]:
                records = load_checkpoint_dir(directory)
                stale = staleness_warning(records)
                if stale:
                    warnings.append(f"{directory}: {stale}")
                extra.extend(records)
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc

        # The reads go to the read replica when there is one (core.db_router); the run's
        # record and any checkpoint are written on the primary.
        reconciled = None
        with reading_from_replica():
            result = verify_chain(checkpoints=True, extra_checkpoints=extra)
            if not options["no_reconcile"]:
                reconciled = reconcile()
        if reconciled is not None:
            record_run(reconciled)
        if options["json"]:
            payload = result.as_dict()
            payload["warnings"] = warnings
            payload["reconciliation"] = reconciled.as_dict() if reconciled else None
            self.stdout.write(json.dumps(payload, indent=2, default=str))
        else:
            for note in result.notes:
                self.stderr.write(f"note: {note}")
            for warning in warnings:
                self.stderr.write(f"WARNING: {warning}")
            self.stdout.write(result.summary())
            self.stderr.write(
                f"verified in {result.seconds:.2f} s "
                f"({result.count / result.seconds if result.seconds else 0:,.0f} events/s)"
            )
            if reconciled is not None:
                for finding in reconciled.findings:
                    self.stdout.write(f"  {finding.describe()}")
                if reconciled.findings_count > len(reconciled.findings):
                    more = reconciled.findings_count - len(reconciled.findings)
                    self.stdout.write(f"  … and {more} more")
                self.stdout.write(reconciled.summary())
                self.stderr.write(f"reconciled in {reconciled.seconds:.2f} s")
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
            if options["export_dir"]:
                path = export_to_dir(options["export_dir"])
                self.stdout.write(f"exported the checkpoints to {path}")
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        if reconciled is not None and not reconciled.clean:
            raise CommandError(
                f"records disagree with the audit trail: {reconciled.findings_count} findings"
            )
