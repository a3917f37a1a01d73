"""`benchmarks.run --scale S`: build the network, time everything, write results.json.

Query counts are measured at the run's scale and at scale 0.01 (a second, small network
in its own throwaway database, built by a child `benchmarks.run --queries-only`); a count
that differs is a failure (exit 1) unless `--no-fail-on-query-growth`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.results import DEFAULT, Results

SMALL = 0.01


def _fast_hasher() -> None:
    """Demo passwords hashed with MD5 in the throwaway database: seed_demo's 25 PBKDF2
    runs would otherwise be a third of a small build. The benchmark logs its users in by
    session (force_login) and token, never by password."""
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()


def _small_counts(args) -> dict:
    """Query counts on a scale-0.01 network (a child process and database of its own)."""
    with tempfile.TemporaryDirectory(prefix="celltrack-bench-counts-") as directory:
        out = Path(directory) / "counts.json"
        command = [sys.executable, "-m", "benchmarks.run", "--scale", str(SMALL)]
        command += ["--queries-only", "--counts-out", str(out)]
        if args.only:
            command += ["--only", ",".join(args.only)]
        if args.postgres:
            command += ["--postgres", args.postgres]
        if args.redis:  # the same store: with the database cache, one more query each
            command += ["--redis", args.redis]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
        return json.loads(out.read_text())


def _wanted(args, *names: str) -> bool:
    """Whether `--only` (absent: everything) selects any of these reads or operations."""
    return not args.only or any(name in args.only for name in names)


def run_network(args, where: str) -> int:
    from django.db import connection

    from benchmarks import http, operations, reads, writers
    from benchmarks.network import build_network
    from benchmarks.network import counts as network_counts

    _fast_hasher()
    # One JSON line per request would drown the report (and cost time in every read).
    logging.getLogger("celltrack.request").setLevel(logging.WARNING)
    results = Results(args.scale, f"{connection.vendor} ({where})")
    results.note("shared_store", "redis" if args.redis else "database cache")
    if args.redis:
        from core.access import access_changed

        # A Redis kept from an earlier run (of another database) holds entries of other
        # users under the same ids: a new version outdates them all.
        access_changed()
    print(
        f"database: {where}; scale {args.scale}; shared store: "
        f"{results.data['shared_store']}; load {results.data['load_average']}"
    )
    if args.reuse:
        built = {"reused": True, **network_counts()}
    else:
        started = time.perf_counter()
        built = build_network(args.scale)
        if connection.vendor == "postgresql":
            # The planner's statistics, as autovacuum would keep them on a live database
            # (a server may run without it; bulk-loaded tables have none until analysed).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        results.add("build_network", time.perf_counter() - started, "s")
    results.note("network", built)
    for key in ("donors", "batches", "bags", "patients", "doses", "audit_events"):
        results.add(f"network.{key}", built[key], "count")

    made = reads.clients()
    counts = {}
    dosing_wanted = _wanted(args, "dose_calculation", "allocation", "order_and_allocation")
    # Registered before the reads: the calculator's patient, and at every scale a patient
    # on the hospital's pharmacy worklist (a first dose to order), so that the worklist
    # prefetches what its rows show at scale 0.01 as at scale 1 (with no row, Django skips
    # a prefetch and the page makes fewer queries than it would with any).
    patient = operations.new_patient()
    metrics, read_counts = reads.measure_reads(
        made,
        repeat=args.read_repeat,
        queries_only=args.queries_only,
        only=args.only,
    )
    counts.update(read_counts)
    if args.queries_only:
        if dosing_wanted:
            counts.update(operations.dosing_metrics(patient, repeat=1)[1])
        Path(args.counts_out).write_text(json.dumps(counts))
        return 0
    results.extend(metrics)
    if dosing_wanted:
        dosing, dosing_counts = operations.dosing_metrics(patient, repeat=args.read_repeat)
        counts.update(dosing_counts)
        results.extend(dosing)
    if _wanted(args, "csv_bags"):
        results.extend(operations.csv_metrics(made["api"]))
    if _wanted(args, "verify_audit", "reconciliation"):
        results.extend(operations.audit_metrics())

    if not _wanted(args, "audited_writes"):
        pass
    elif connection.vendor == "postgresql":
        results.extend(writers.writer_metrics(seconds=args.writer_seconds))
    else:
        for n in writers.WRITERS:
            results.skip(
                f"audited_writes.{n}_writers",
                "PostgreSQL only: SQLite serialises writers (one database-wide write lock)",
            )
    if _wanted(args, "http"):
        _http(args, results, made, reads, http, connection)

    status = 0
    missing = [] if args.only else _missing(results)
    if missing:
        results.fail(f"neither measured nor skipped: {', '.join(missing)}")
        status = 1
    if args.scale != SMALL and not args.reuse:
        small = _small_counts(args)
        results.note("queries_at_scale_0.01", small)
        for name, count in counts.items():
            if small.get(name) != count:
                results.fail(
                    f"{name}: {count} queries at scale {args.scale}, "
                    f"{small.get(name)} at scale {SMALL}"
                )
                status = 0 if args.no_fail_on_query_growth else 1
    results.write(Path(args.results) if args.results else DEFAULT)
    return status


def _http(args, results, made, reads, http, connection) -> None:
    targets = [
        ("bag_list", "/api/v1/bags/", {"Authorization": f"Token {made['_token']}"}),
        (
            "donor_trace",
            next(r.url for r in reads.reads() if r.name == "donor_trace"),
            {"Authorization": f"Token {made['_token']}"},
        ),
        (
            "pharmacy_worklist",
            "/pharmacy/",
            {"Cookie": f"sessionid={made['pharmacy'].cookies['sessionid'].value}"},
        ),
    ]
    why = http.missing() or ("--skip-http" if args.skip_http else None)
    if why:
        for name, _path, _headers in targets:
            for suffix in ("", ".p50", ".p99"):
                results.skip(f"http.{name}{suffix}", why)
    else:
        connection.close()
        results.extend(http.http_metrics(targets))


def expected() -> list[str]:
    """Every metric a run produces (or lists as skipped, with the reason)."""
    from benchmarks import reads, writers

    names = []
    for read in reads.READ_NAMES:
        names += [read, *(f"{read}.{s}" for s in ("p95", "floor", "floor_ratio", "queries"))]
    for name in ("dose_calculation", "allocation", "order_and_allocation"):
        names += [name, f"{name}.p95", f"{name}.queries"]
    names += [f"csv_bags{s}" for s in ("", ".floor", ".floor_ratio", ".peak_memory")]
    names += ["verify_audit", "reconciliation"]
    names += [f"audited_writes.{n}_writers" for n in writers.WRITERS]
    for target in ("bag_list", "donor_trace", "pharmacy_worklist"):
        names += [f"http.{target}{s}" for s in ("", ".p50", ".p99")]
    return names


def _missing(results: Results) -> list[str]:
    seen = {m["name"] for m in results.data["metrics"]}
    seen |= {s["name"] for s in results.data["skipped"]}
    return [name for name in expected() if name not in seen]


def add_arguments(parser) -> None:
    parser.add_argument(
        "--scale",
        type=float,
        help="build the synthetic network at this scale (1: 2,000 donors, 200,000 bags) "
        "and time the reads, operations and HTTP against it",
    )
    parser.add_argument("--read-repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", 15)))
    parser.add_argument("--writer-seconds", type=float, default=3.0)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--no-fail-on-query-growth", action="store_true")
    parser.add_argument("--results", help=f"where to write the results (default {DEFAULT})")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="with --postgres: keep the network's database at the end (its URL is printed)",
    )
    parser.add_argument(
        "--reuse",
        metavar="DATABASE_URL",
        help="postgres://…/dbname: time against a network kept by --keep (nothing is built; "
        "give its --scale); the query-growth comparison with scale 0.01 is then skipped",
    )
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help="comma-separated: only these reads or operations (e.g. donor_trace,healthz; "
        "operations: dose_calculation, allocation, order_and_allocation, csv_bags, "
        "verify_audit, reconciliation, audited_writes, http)",
    )
    parser.add_argument(
        "--redis",
        metavar="REDIS_URL",
        help="keep the shared store (throttles, the access cache) in Redis at this URL, as "
        "a deployment of several servers does (REDIS_URL); default: the database cache. "
        "Every cached access entry is outdated at the start",
    )
    parser.add_argument("--queries-only", action="store_true", help=argparse_hidden())
    parser.add_argument("--counts-out", help=argparse_hidden())


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS
