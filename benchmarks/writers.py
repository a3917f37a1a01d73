"""Audited writes from 1, 2, 4 and 8 concurrent writers (PostgreSQL only).

Each writer is a thread with its own connection; each transaction creates one storage
position through `AuditedModel.save()` (the record and its chained event, under the
chain's advisory lock). Transactions per second over `seconds` for each number of
writers, then the whole chain is verified: concurrent writers must never fork it.
"""

from __future__ import annotations

import secrets
import threading
import time

WRITERS = (1, 2, 4, 8)


def writer_metrics(*, seconds: float = 3.0) -> list:
    from django.db import connection, connections, transaction

    from audit.context import Origin, audit_context
    from audit.verify import verify_chain
    from batches.models import StorageLocation
    from sites.models import Facility

    facility = Facility.objects.order_by("pk").first()
    # A tank of this run's own: a network kept and timed again (`--reuse`) still holds
    # the positions an earlier run wrote.
    run = secrets.token_hex(3)
    metrics = []
    for writers in WRITERS:
        done = [0] * writers
        errors: list[BaseException] = []
        stop = time.perf_counter() + seconds

        def work(n: int, writers=writers, done=done, errors=errors, stop=stop):
            try:
                with audit_context(actor=None, reason="benchmark writers", origin=Origin.COMMAND):
                    while time.perf_counter() < stop:
                        with transaction.atomic():
                            StorageLocation(
                                facility=facility,
                                tank=f"BENCH-{run}-W{writers}",
                                rack=str(n),
                                box=str(done[n] // 1000),
                                position=str(done[n] % 1000),
                            ).save()
                        done[n] += 1
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise SystemExit(f"{writers} writers: {errors[0]!r}")
        metrics.append((f"audited_writes.{writers}_writers", sum(done) / elapsed, "tx/s"))
    connection.close()
    result = verify_chain()
    metrics.append(("audited_writes.chain_intact", int(result.intact), "bool"))
    if not result.intact:
        raise SystemExit(f"concurrent writers broke the chain: {result.summary()}")
    return metrics
