"""Measure what the audit trail costs: `make bench`, or `python -m benchmarks.run`.

1. Writes: 10,000 bags created by `Bag.save()` one by one and by `Bag.objects.bulk_create()`,
   each with the audit trail and with the audit hook switched off (the same code path
   otherwise, see `_trail_off`), in the same run and database, alternating, best of
   `--repeat` runs each. The ratio is the trail's cost. Wall time and this process's CPU
   time are both reported: on a shared machine the CPU time is the steadier of the two
   (on SQLite it is nearly all the work; on PostgreSQL the server's share is not in it).
2. Verification: a chain of `--events` properly chained events is bulk-inserted, then
   `verify_chain()` (what `verify_audit` runs) recomputes all of it, serially and as
   `verify_audit` does by default (on PostgreSQL, ranges in parallel), best of `--repeat`.

3. With `--scale S`: the synthetic network of issue 15 (`benchmarks.network`), the reads
   against their floors, the dose calculation and allocation, the CSV export, verification
   and reconciliation, concurrent writers (PostgreSQL) and HTTP (gunicorn + wrk); results
   in `benchmarks/results.json` (`benchmarks.suite`). Parts 1 and 2 are not run then.

The benchmark makes its own throwaway database: a SQLite file in a temporary directory
(default), or with `--postgres postgres://user@host:port` a fresh PostgreSQL database
that is dropped at the end (kept with `--keep`, which prints its URL). `--reuse
postgres://…/dbname --scale S` times against such a kept network instead of building
one. It never touches the project's database.
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from decimal import Decimal

from benchmarks import suite


def _configure(args) -> tuple[str, callable]:
    """Point Django at a new, empty database before django.setup(); return a cleanup."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Production settings: with DEBUG on, Django logs every query, which would make each
    # extra statement look dearer than it is.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    # The in-process client and the benchmark's gunicorn (which inherits this environment).
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    if getattr(args, "redis", None):
        os.environ["REDIS_URL"] = args.redis
    else:
        os.environ.pop("REDIS_URL", None)  # the database cache, unless asked
    if args.reuse:
        os.environ["DATABASE_URL"] = args.reuse
        return f"PostgreSQL ({args.reuse.rsplit('/', 1)[-1]}, reused, kept)", lambda: None
    if args.postgres:
        import psycopg

        server = args.postgres.rstrip("/")
        name = f"celltrack_bench_{os.getpid()}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = f"{server}/{name}"

        def cleanup():
            from django.db import connections

            connections.close_all()
            if args.keep:
                print(f"database kept: {server}/{name} (rerun with --reuse {server}/{name})")
                return
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

        fate = "kept" if args.keep else "dropped afterwards"
        return f"PostgreSQL ({name}, {fate})", cleanup
    directory = tempfile.mkdtemp(prefix="celltrack-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{directory}/bench.sqlite3"
    return f"SQLite file in {directory} (removed afterwards)", (
        lambda: shutil.rmtree(directory, ignore_errors=True)
    )


def _batches(count: int, offset: int):
    """`count` quarantined batches to hang bags on (set-up, audited, not timed)."""
    from audit.context import Origin, audit_context
    from batches.models import Batch, Donor, Procurement, ReleaseSpecification
    from sites.models import Facility

    with audit_context(actor=None, reason="benchmark set-up", origin=Origin.SYSTEM):
        facility, _ = Facility.objects.get_or_create(fin="E0001", defaults={"name": "Bench"})
        spec, _ = ReleaseSpecification.objects.get_or_create(
            code="BENCH", version=1, defaults={"effective_from": datetime.date(2026, 1, 1)}
        )
        batches = []
        for n in range(offset, offset + count):
            donor = Donor.objects.create(code=f"BENCH-{n}", age_at_donation=30, sex="F")
            procurement = Procurement.objects.create(
                donor=donor,
                procured_on=datetime.date(2026, 3, 2),
                site="Bench",
                lipoaspirate_volume_ml=Decimal("100.0"),
                fat_weight_g=Decimal("50.0"),
                performed_by="Bench",
            )
            batches.append(
                Batch.objects.create(
                    din=f"E000126{n:06d}",
                    donor=donor,
                    procurement=procurement,
                    facility=facility,
                    impd_reference="PEI-15-103",
                    specification=spec,
                    status=Batch.Status.QUARANTINE,
                )
            )
    return batches


DIVISIONS = [f"{chr(65 + n // 10)}{n % 10}" for n in range(260)]


def _new_bags(batches, count: int):
    from batches.models import Bag

    bags = []
    for n in range(count):
        batch = batches[n // len(DIVISIONS)]
        division = DIVISIONS[n % len(DIVISIONS)]
        bags.append(
            Bag(
                code=f"{batch.code}-S1234V00-{division}",
                batch=batch,
                product_code="S1234V00",
                division=division,
                nominal_cells=60_000_000,
                volume_ml=Decimal("20.0"),
                status=Bag.Status.QUARANTINE,
            )
        )
    return bags


@contextmanager
def _trail_off():
    """The audit hook switched off, for the "no trail" runs (the benchmark only: the
    application has no such switch). Everything else is the same code path: `Bag.save()`
    runs its own logic and reaches `django.db.models.Model.save` directly instead of
    through `AuditedModel.save`; `Bag.objects.bulk_create()` runs as always (in its
    transaction) but appends no events."""
    from unittest import mock

    from django.db import models

    from audit.audited import AuditedModel

    with (
        mock.patch.object(AuditedModel, "save", models.Model.save),
        mock.patch("audit.audited.append_bulk_create", lambda objs: 0),
    ):
        yield


def _load() -> str:
    return "/".join(f"{n:.1f}" for n in os.getloadavg())


def bench_writes(bag_count: int, repeat: int) -> dict:
    """Best wall and CPU (this process) seconds of each way of creating the bags."""
    from django.db import transaction

    from audit.context import Origin, audit_context
    from audit.verify import verify_chain
    from batches.models import Bag

    per_run = -(-bag_count // len(DIVISIONS))
    timings: dict[str, list[tuple[float, float]]] = {}
    offset = 0

    def run(label, create, trail: bool):
        nonlocal offset
        batches = _batches(per_run, offset)
        offset += per_run
        bags = _new_bags(batches, bag_count)
        with (
            audit_context(actor=None, reason="benchmark", origin=Origin.COMMAND),
            nullcontext() if trail else _trail_off(),
        ):
            started, cpu = time.perf_counter(), time.process_time()
            with transaction.atomic():
                create(bags)
            elapsed = (time.perf_counter() - started, time.process_time() - cpu)
        timings.setdefault(label, []).append(elapsed)
        assert Bag._base_manager.filter(batch__in=batches).count() == bag_count

    def save(bags):
        for bag in bags:
            bag.save()

    def bulk_create(bags):
        Bag.objects.bulk_create(bags, batch_size=1000)

    for _ in range(repeat):
        # Alternate, so neither side profits from a warmer cache or a bigger table.
        run("save, no trail", save, trail=False)
        run("save, with trail", save, trail=True)
        run("bulk_create, no trail", bulk_create, trail=False)
        run("bulk_create, with trail", bulk_create, trail=True)
    # The trail the benchmark wrote must be a sound chain (writes that fork or break it
    # would be fast for nothing).
    result = verify_chain()
    if not result.intact:
        raise SystemExit(f"the benchmark's trail does not verify: {result.summary()}")
    return {
        label: (min(v[0] for v in values), min(v[1] for v in values))
        for label, values in timings.items()
    }


def _generate_events(count: int) -> int:
    """Append `count` properly chained events with one multi-row INSERT per 5,000."""
    from django.db import connection, transaction

    from audit.chain import GENESIS_HASH, canonical_json, row_hash
    from audit.models import AuditEvent

    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = head or (0, GENESIS_HASH)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    sql = (
        "INSERT INTO audit_auditevent (seq, occurred_at, actor_id, actor_username, origin, "
        "action, object_type, object_id, object_repr, changes, reason, prev_hash, hash) "
        "VALUES (%s, %s, NULL, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    adapt = connection.ops.adapt_datetimefield_value
    rows = []
    with transaction.atomic(), connection.cursor() as cursor:
        for n in range(count):
            seq += 1
            occurred_at = start + datetime.timedelta(microseconds=1_000_003 * n)
            changes = {
                "id": [None, seq],
                "code": [None, f"E000126{n:06d}X-S1234V00-A{n % 10}"],
                "batch_id": [None, n // 260 + 1],
                "product_code": [None, "S1234V00"],
                "division": [None, f"A{n % 10}"],
                "nominal_cells": [None, 60_000_000],
                "volume_ml": [None, "20.0"],
                "location_id": [None, None],
                "status": [None, "quarantine"],
                "discard_reason": [None, ""],
                "created_at": [None, occurred_at.isoformat()],
            }
            content = (
                seq,
                occurred_at.isoformat(),
                "bench",
                "command",
                "create",
                "batches.bag",
                str(seq),
                changes["code"][1],
                changes,
                "",
                prev_hash,
            )
            event_hash = row_hash(*content)
            rows.append(
                (seq, adapt(occurred_at), *content[2:8], canonical_json(changes), "", prev_hash)
                + (event_hash,)
            )
            prev_hash = event_hash
            if len(rows) == 5000:
                cursor.executemany(sql, rows)
                rows = []
        if rows:
            cursor.executemany(sql, rows)
    return seq


def bench_verify(event_count: int, repeat: int) -> dict:
    """Best of `repeat` runs of `verify_chain()` serially (workers=1) and as
    `verify_audit` runs it (on PostgreSQL: ranges in parallel; on SQLite: serially)."""
    from audit.models import AuditEvent
    from audit.verify import verify_chain

    existing = AuditEvent.objects.count()
    started = time.perf_counter()
    _generate_events(max(event_count - existing, 0))
    stats = {"generate_s": time.perf_counter() - started}
    for label, workers in (("serial", 1), ("default", None)):
        best = None
        for _ in range(repeat):
            result = verify_chain(workers=workers)
            if not result.intact:
                raise SystemExit(f"benchmark chain does not verify: {result.summary()}")
            if best is None or result.seconds < best.seconds:
                best = result
        stats[label] = (best.count, best.seconds, best.count / best.seconds)
    return stats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--postgres", metavar="SERVER_URL", help="postgres://user@host:port")
    parser.add_argument("--skip-writes", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    suite.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.reuse and args.scale is None:
        parser.error("--reuse needs the --scale the reused network was built at")

    where, cleanup = _configure(args)
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        if args.scale is not None:
            return suite.run_network(args, where)
        print(f"database: {where}")
        print(f"python {sys.version.split()[0]}, {connection.vendor}")
        print(f"load average (1/5/15 min) at start: {_load()} on {os.cpu_count()} CPUs")
        if not args.skip_writes:
            timings = bench_writes(args.bags, args.repeat)
            print(f"\ncreate {args.bags:,} bags (best of {args.repeat}, one transaction):")
            print(f"  {'':<26} {'wall':>9}  {'bags/s':>9}  {'CPU (this process)':>18}")
            for label, (wall, cpu) in timings.items():
                print(f"  {label:<26} {wall:7.3f} s  {args.bags / wall:9,.0f}  {cpu:16.3f} s")
            for kind in ("save", "bulk_create"):
                (wall_on, cpu_on), (wall_off, cpu_off) = (
                    timings[f"{kind}, with trail"],
                    timings[f"{kind}, no trail"],
                )
                ratio, cpu_ratio = wall_on / wall_off, cpu_on / cpu_off
                print(
                    f"  {kind}: trail adds {100 * (ratio - 1):.0f} % (ratio {ratio:.2f}); "
                    f"CPU of this process {100 * (cpu_ratio - 1):+.0f} %"
                )
            print(f"  load average after writes: {_load()}")
        if not args.skip_verify:
            stats = bench_verify(args.events, args.repeat)
            print(
                f"\nverify_chain() over {args.events:,} events (best of {args.repeat}; "
                f"generating them took {stats['generate_s']:.1f} s):"
            )
            for label, text in (
                ("serial", "workers=1 (serial scan)"),
                ("default", "default (as verify_audit)"),
            ):
                count, seconds, rate = stats[label]
                print(f"  {text:<26} {count:,} events {seconds:6.2f} s {rate:10,.0f} events/s")
            print(f"  load average after verification: {_load()}")
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
