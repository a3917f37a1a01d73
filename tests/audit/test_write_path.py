"""The fast write path keeps every guarantee of the trail.

The chain head is cached on the connection, and the database checks the cached head in
the same statement that appends the next event; on PostgreSQL the advisory lock is taken
once per transaction. These tests undo work behind the cache's back (savepoints rolled
back through `atomic`, through the savepoint API and in plain SQL; whole transactions;
events appended by other code) and check that the chain never gets a gap or a fork.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.chain import event_hash
from audit.context import Origin, audit_context
from audit.models import AuditEvent
from audit.verify import verify_chain
from audit.writer import CHAIN_LOCK_KEY, write_event
from batches.models import Bag, Donor
from tests.audit.helpers import record_bulk_create, record_change
from tests.conftest import requires_postgres
from tests.factories import BagFactory, BatchFactory


def new_donor(code):
    return Donor(code=code, age_at_donation=30, sex="F")


def donor(code):
    return Donor.objects.create(code=code, age_at_donation=30, sex="F")


def chain():
    """(seq, prev_hash, hash) of every event, in order."""
    return list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))


def assert_unbroken():
    links = chain()
    assert [seq for seq, _, _ in links] == list(range(links[0][0], links[0][0] + len(links)))
    for (_, _, before), (_, link, _) in zip(links, links[1:], strict=False):
        assert link == before
    result = verify_chain()
    assert result.intact, result.summary()
    return links


def lock_is_free_for_others() -> bool:
    """Whether another session could take the chain's advisory lock right now: asked from
    another thread, which Django gives its own connection (in autocommit, so a lock it
    gets is released with the statement)."""

    def try_lock():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
                return cursor.fetchone()[0]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as other_session:
        return other_session.submit(try_lock).result()


def append_by_other_code(reason):
    """Append a correctly chained event without the writer, as other code could (an ORM
    save): the writer's cached head is then no longer the last event."""
    head = AuditEvent.objects.order_by("seq").last()
    seq, occurred_at = head.seq + 1, timezone.now().replace(microsecond=123_456)
    content = {
        "actor_username": "",
        "origin": Origin.TEST,
        "action": "note",
        "object_type": "test.note",
        "object_id": "1",
        "object_repr": "1",
        "changes": {},
        "reason": reason,
    }
    digest = event_hash(
        seq=seq, occurred_at=occurred_at.isoformat(), prev_hash=head.hash, **content
    )
    return AuditEvent.objects.create(
        seq=seq, occurred_at=occurred_at, prev_hash=head.hash, hash=digest, **content
    )


# --- the head cache and rollbacks --------------------------------------------------------


@pytest.mark.django_db
def test_events_of_one_transaction_follow_each_other(production_user):
    with audit_context(actor=production_user), transaction.atomic():
        first = donor("WP-1")
        second = donor("WP-2")
    a = AuditEvent.objects.for_object(first).get()
    b = AuditEvent.objects.for_object(second).get()
    assert (b.seq, b.prev_hash) == (a.seq + 1, a.hash)
    assert_unbroken()


@pytest.mark.django_db
def test_the_savepoint_api_rolled_back_leaves_no_gap(production_user):
    """`transaction.savepoint()`/`savepoint_rollback()` bypass atomic's bookkeeping."""
    with audit_context(actor=production_user), transaction.atomic():
        donor("WP-SP1")
        sid = transaction.savepoint()
        donor("WP-SP2")  # becomes the cached head …
        transaction.savepoint_rollback(sid)  # … and is gone
        donor("WP-SP3")
    assert not Donor.objects.filter(code="WP-SP2").exists()
    assert_unbroken()


@pytest.mark.django_db
def test_a_savepoint_rolled_back_in_plain_sql_leaves_no_gap(production_user):
    """Not even a rollback Django never hears of can make the cache lie: the database
    checks the cached head before it appends."""
    with audit_context(actor=production_user), transaction.atomic():
        donor("WP-RAW1")
        with connection.cursor() as cursor:
            cursor.execute("SAVEPOINT behind_djangos_back")
        donor("WP-RAW2")
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK TO SAVEPOINT behind_djangos_back")
        donor("WP-RAW3")
    assert not Donor.objects.filter(code="WP-RAW2").exists()
    assert_unbroken()


@pytest.mark.django_db
def test_events_appended_by_other_code_are_not_overwritten_by_the_cache(production_user):
    with audit_context(actor=production_user), transaction.atomic():
        first = donor("WP-O1")  # becomes the cached head …
        other = append_by_other_code("appended without the writer")  # … stale now
        second = donor("WP-O2")
    links = assert_unbroken()
    events = [AuditEvent.objects.for_object(d).get() for d in (first, second)]
    assert [e.seq for e in events] == [other.seq - 1, other.seq + 1]
    assert events[1].prev_hash == other.hash
    assert links[-1][0] == events[1].seq


@pytest.mark.django_db
def test_a_failed_save_inside_a_transaction_dooms_it(production_user):
    """As with atomic(savepoint=False) before: the record is never committed without its
    event, even if the caller swallows the error."""
    existing = BagFactory()
    with audit_context(actor=production_user), transaction.atomic():
        duplicate = Bag(
            code=existing.code,
            batch=existing.batch,
            product_code=existing.product_code,
            division=existing.division,
            nominal_cells=existing.nominal_cells,
            volume_ml=existing.volume_ml,
        )
        with pytest.raises(IntegrityError):
            duplicate.save()
        assert transaction.get_rollback()  # the block rolls back when it ends


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_then_a_new_one_leaves_no_gap(system_context):
    with pytest.raises(RuntimeError), transaction.atomic():
        donor("WP-T1")  # cached, then rolled back with the transaction
        raise RuntimeError
    donor("WP-T2")  # autocommit: its own transaction
    with transaction.atomic():
        donor("WP-T3")
        donor("WP-T4")
    assert not Donor.objects.filter(code="WP-T1").exists()
    assert_unbroken()


# --- PostgreSQL: the advisory lock -------------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_is_held_from_the_first_event_to_commit(system_context):
    with transaction.atomic():
        donor("WP-L1")
        assert not lock_is_free_for_others()
        donor("WP-L2")  # through the cached head, without locking again
        assert not lock_is_free_for_others()
    assert lock_is_free_for_others()
    assert_unbroken()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_lock_released_by_a_savepoint_rollback_is_taken_again(system_context):
    """The first event (and so the lock) came inside a savepoint that was rolled back:
    the next event must lock again, and does, because its cached head is gone too."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                donor("WP-SL1")
                raise RuntimeError
        except RuntimeError:
            pass
        assert lock_is_free_for_others()  # PostgreSQL released it with the savepoint
        donor("WP-SL2")
        assert not lock_is_free_for_others()
    assert_unbroken()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_head_cached_before_this_transaction_began_is_not_used_unlocked(system_context):
    donor("WP-X0")  # autocommit: its own transaction, committed through Django
    with transaction.atomic():
        assert lock_is_free_for_others()
        donor("WP-X1")
        assert not lock_is_free_for_others()
    assert_unbroken()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_head_cached_in_an_earlier_transaction_is_never_used_unlocked(system_context):
    """The transaction is committed in plain SQL, so Django (and with it the writer's
    hint) still takes it for the same one: the database refuses the old transaction's
    head and the event is written under the lock."""
    with transaction.atomic():
        donor("WP-X1")
        with connection.cursor() as cursor:
            cursor.execute("COMMIT")  # behind Django's back; the next statement begins anew
        assert lock_is_free_for_others()  # released with the commit
        donor("WP-X2")
        assert not lock_is_free_for_others()
    assert Donor.objects.filter(code__in=["WP-X1", "WP-X2"]).count() == 2
    assert_unbroken()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_with_rolled_back_savepoints_keep_one_chain():
    writers, per_writer = 4, 8
    barrier = threading.Barrier(writers)
    errors = []

    def write(n):
        try:
            barrier.wait()
            with audit_context(actor=None, reason=f"writer {n}", origin=Origin.TEST):
                for i in range(per_writer):
                    with transaction.atomic():
                        try:
                            with transaction.atomic():
                                donor(f"CS{n}-{i}-gone")
                                raise RuntimeError
                        except RuntimeError:
                            pass
                        donor(f"CS{n}-{i}-a")
                        donor(f"CS{n}-{i}-b")
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.filter(object_type="batches.donor").count() == (
        writers * per_writer * 2
    )
    assert not Donor.objects.filter(code__endswith="-gone").exists()
    assert_unbroken()


# --- the public functions and Django's view of the statements ----------------------------


@pytest.mark.django_db
def test_write_event_returns_the_stored_event(system_context):
    event = write_event(action="note", object_type="test.note", object_id="7", reason="why")
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.seq, stored.hash, stored.prev_hash) == (event.seq, event.hash, event.prev_hash)
    assert (stored.reason, stored.changes, stored.occurred_at) == (
        "why",
        {},
        event.occurred_at,
    )


@pytest.mark.django_db
def test_record_change_and_record_bulk_create_return_their_events(production_user):
    batch = BatchFactory()
    with audit_context(actor=production_user):
        bags = [
            Bag(
                code=f"{batch.code}-S1234V00-B{n}",
                batch=batch,
                product_code="S1234V00",
                division=f"B{n}",
                nominal_cells=60_000_000,
                volume_ml="20.0",
            )
            for n in range(3)
        ]
        with transaction.atomic():
            saved = list(Bag._base_manager.bulk_create(bags))
            events = record_bulk_create(saved)
        assert [e.object_id for e in events] == [str(b.pk) for b in saved]
        assert all(AuditEvent.objects.get(pk=e.pk).hash == e.hash for e in events)
        event = record_change(
            saved[0], before={"status": "a"}, after={"status": "b"}, action="update",
            reason_needed=False,
        )  # fmt: skip
    assert AuditEvent.objects.get(pk=event.pk).changes == {"status": ["a", "b"]}
    assert_unbroken()


@pytest.mark.django_db
def test_update_audited_of_many_rows_writes_one_chained_event_each(production_user):
    batch = BatchFactory()
    bags = [BagFactory(batch=batch, status=Bag.Status.AVAILABLE) for _ in range(3)]
    with audit_context(actor=production_user):
        count = Bag.objects.filter(pk__in=[b.pk for b in bags]).update_audited(
            audit_action="reserve", status=Bag.Status.RESERVED
        )
    assert count == 3
    for bag in bags:
        event = AuditEvent.objects.for_object(bag).last()
        assert (event.action, event.changes) == ("reserve", {"status": ["available", "reserved"]})
    assert_unbroken()


@pytest.mark.django_db
def test_a_small_batch_after_the_cached_head_is_one_statement(production_user):
    with audit_context(actor=production_user), transaction.atomic():
        donor("WP-B0")  # caches the head
        with CaptureQueriesContext(connection) as queries:
            donors = Donor.objects.bulk_create([new_donor(f"WP-B{i}") for i in range(1, 4)])
    inserts = [q for q in queries.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(inserts) == 1
    events = [AuditEvent.objects.for_object(d).get() for d in donors]
    assert [e.seq for e in events] == [events[0].seq + i for i in range(3)]
    assert [e.object_id for e in events] == [str(d.pk) for d in donors]
    assert_unbroken()


@pytest.mark.django_db
def test_a_batch_after_a_stale_cached_head_is_appended_after_the_real_one(production_user):
    """The batch's one statement checks the cached head as a single event's does: when
    another event came in between, nothing is inserted and the batch follows that one."""
    with audit_context(actor=production_user), transaction.atomic():
        donor("WP-BS")  # becomes the cached head …
        other = append_by_other_code("appended without the writer")  # … stale now
        donors = Donor.objects.bulk_create([new_donor("WP-BS1"), new_donor("WP-BS2")])
    events = [AuditEvent.objects.for_object(d).get() for d in donors]
    assert [e.seq for e in events] == [other.seq + 1, other.seq + 2]
    assert events[0].prev_hash == other.hash
    assert_unbroken()


@pytest.mark.django_db
def test_audit_statements_are_visible_to_query_capture(production_user):
    """When Django watches queries (DEBUG, assertNumQueries), the audit INSERTs go
    through Django's cursor and are counted like any other."""
    with audit_context(actor=production_user), CaptureQueriesContext(connection) as queries:
        donor("WP-Q1")
    assert any("audit_auditevent" in q["sql"] for q in queries.captured_queries)
    assert_unbroken()


@requires_postgres
@pytest.mark.django_db
def test_behind_a_transaction_pooler_verification_still_works(production_user, monkeypatch):
    """DISABLE_SERVER_SIDE_CURSORS (PgBouncer in transaction mode): verification then
    uses no server-side cursor of its own."""
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    with audit_context(actor=production_user), transaction.atomic():
        donor("WP-PB1")
        donor("WP-PB2")
    assert_unbroken()
