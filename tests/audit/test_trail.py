"""The trail itself: every change of a regulated record writes one chained event, in the
same transaction; events cannot be changed by the ORM, the admin or plain SQL."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test import RequestFactory
from django.test.utils import isolate_apps

from audit.checks import audit_coverage_errors, check_regulated_models_are_audited
from audit.context import Origin, audit_context, audit_origin
from audit.exceptions import ImmutableAuditEvent, ReasonRequired
from audit.middleware import AuditOriginMiddleware
from audit.models import AuditCheckpoint, AuditEvent, Signature
from audit.verify import verify_chain
from batches.models import Bag, BagEvent, Batch, Donor, StorageLocation
from sites.models import Facility
from tests.conftest import requires_postgres
from tests.factories import BagFactory, BatchFactory, DonorFactory, FacilityFactory, site_member


def events_of(obj):
    return list(AuditEvent.objects.for_object(obj).values_list("action", flat=True))


# --- one event per change -----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "factory, field, value",
    [
        (FacilityFactory, "name", "Renamed facility"),
        (DonorFactory, "age_at_donation", 41),
        (BatchFactory, "impd_reference", "PEI-15-104"),
        (BagFactory, "volume_ml", Decimal("19.5")),
    ],
)
def test_create_update_delete_of_a_record_each_write_one_event(
    production_user, factory, field, value
):
    record = factory()
    key = {"object_type": record._meta.label_lower, "object_id": str(record.pk)}
    with audit_context(actor=production_user, reason="correction"):
        setattr(record, field, value)
        record.save()
        record.delete()
    trail = AuditEvent.objects.filter(**key)
    assert list(trail.values_list("action", flat=True)) == ["create", "update", "delete"]
    update = trail.get(action="update")
    assert list(update.changes) == [field]
    assert update.actor == production_user and update.reason == "correction"
    assert verify_chain().intact


@pytest.mark.django_db
def test_custody_events_and_storage_locations_are_audited(production_user):
    bag = BagFactory()
    with audit_context(actor=production_user):
        step = BagEvent.objects.create(
            bag=bag,
            from_status=Bag.Status.QUARANTINE,
            to_status=Bag.Status.AVAILABLE,
            occurred_at=datetime.datetime(2026, 5, 1, tzinfo=datetime.UTC),
            actor=production_user,
        )
        spot = StorageLocation.objects.create(
            facility=bag.batch.facility, tank="T9", rack="R1", box="B1", position="1"
        )
    assert events_of(step) == ["create"]
    assert events_of(spot) == ["create"]


@pytest.mark.django_db
def test_saving_without_a_change_writes_no_event(production_user):
    donor = DonorFactory()
    with audit_context(actor=production_user):
        donor.save()
    assert events_of(donor) == ["create"]


@pytest.mark.django_db
def test_bulk_create_writes_one_chained_event_per_row(production_user):
    batch = BatchFactory()
    with audit_context(actor=production_user):
        bags = Bag.objects.bulk_create(
            Bag(
                code=f"{batch.code}-S1234V00-A{n}",
                batch=batch,
                product_code="S1234V00",
                division=f"A{n}",
                nominal_cells=60_000_000,
                volume_ml=Decimal("20.0"),
            )
            for n in range(3)
        )
    assert all(events_of(bag) == ["create"] for bag in bags)
    assert verify_chain().intact


@pytest.mark.django_db
def test_queryset_delete_writes_one_event_per_record(production_user):
    facilities = [FacilityFactory(fin="E0091"), FacilityFactory(fin="E0092")]
    pks = [f.pk for f in facilities]
    with audit_context(actor=production_user, reason="duplicates"):
        Facility.objects.filter(pk__in=pks).delete()
    for pk in pks:
        trail = AuditEvent.objects.filter(object_type="sites.facility", object_id=str(pk))
        assert list(trail.values_list("action", flat=True)) == ["create", "delete"]


# --- same transaction ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event_and_no_gap(production_user):
    before = AuditEvent.objects.count()
    failing = pytest.raises(RuntimeError)
    with failing, audit_context(actor=production_user), transaction.atomic():
        Donor.objects.create(code="DON-RB1", age_at_donation=30, sex="F")
        raise RuntimeError("the service failed after the write")
    assert not Donor.objects.filter(code="DON-RB1").exists()
    assert AuditEvent.objects.count() == before
    with audit_context(actor=production_user):
        Donor.objects.create(code="DON-RB2", age_at_donation=30, sex="F")
    result = verify_chain()
    assert result.intact and result.count == before + 1


@pytest.mark.django_db
def test_a_rolled_back_savepoint_leaves_the_chain_intact(production_user):
    with audit_context(actor=production_user), transaction.atomic():
        Donor.objects.create(code="DON-SP1", age_at_donation=30, sex="F")
        try:
            with transaction.atomic():
                Donor.objects.create(code="DON-SP2", age_at_donation=30, sex="F")
                raise RuntimeError
        except RuntimeError:
            pass
        Donor.objects.create(code="DON-SP3", age_at_donation=30, sex="F")
    assert not Donor.objects.filter(code="DON-SP2").exists()
    assert verify_chain().intact


@pytest.mark.django_db
def test_an_edit_of_a_released_batch_needs_a_reason(production_user):
    batch = BatchFactory(status=Batch.Status.RELEASED)
    batch.refresh_from_db()
    batch.impd_reference = "PEI-15-999"
    with audit_context(actor=production_user), pytest.raises(ReasonRequired):
        batch.save()
    batch.refresh_from_db()
    assert batch.impd_reference == "PEI-15-103"
    batch.impd_reference = "PEI-15-999"
    with audit_context(actor=production_user, reason="IMPD amendment 3"):
        batch.save()
    assert AuditEvent.objects.for_object(batch).last().reason == "IMPD amendment 3"


# --- origin ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, origin", [("/admin/batches/donor/add/", "admin"), ("/pharmacy/x/", "form")]
)
def test_the_request_path_is_recorded_as_origin(production_user, path, origin):
    def view(request):
        with audit_context(actor=production_user):
            return Donor.objects.create(code=f"DON-{origin}", age_at_donation=30, sex="F")

    donor = AuditOriginMiddleware(view)(RequestFactory().post(path))
    assert AuditEvent.objects.for_object(donor).get().origin == origin


@pytest.mark.django_db
def test_a_command_is_recorded_as_origin(production_user):
    with audit_origin(Origin.COMMAND), audit_context(actor=production_user):
        donor = Donor.objects.create(code="DON-CMD", age_at_donation=30, sex="F")
    assert AuditEvent.objects.for_object(donor).get().origin == "command"


# --- events cannot be changed -------------------------------------------------------


@pytest.fixture
def event(db, system_context):
    return AuditEvent.objects.for_object(DonorFactory()).get()


def test_the_orm_refuses_to_change_or_delete_an_event(event):
    event.reason = "rewritten"
    with pytest.raises(ImmutableAuditEvent):
        event.save()
    with pytest.raises(ImmutableAuditEvent):
        event.delete()
    with pytest.raises(ImmutableAuditEvent):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(ImmutableAuditEvent):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(ImmutableAuditEvent):
        AuditEvent.objects.bulk_update([event], ["reason"])


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET reason = 'rewritten'",
        "DELETE FROM audit_auditevent",
        "UPDATE audit_signature SET comment = 'x'",
        "DELETE FROM audit_signature",
        "UPDATE audit_auditcheckpoint SET mac = 'x'",
        "DELETE FROM audit_auditcheckpoint",
    ],
)
def test_the_database_refuses_update_and_delete_on_append_only_tables(
    event, qp_user, settings, sql
):
    settings.AUDIT_CHECKPOINT_KEY = "k"
    Signature.objects.create(
        signer=qp_user,
        printed_name="Quinn Person",
        signed_at=datetime.datetime(2026, 5, 1, tzinfo=datetime.UTC),
        meaning="released",
        object_type="batches.batch",
        object_id="1",
        content_hash="0" * 64,
    )
    call_command("verify_audit", "--checkpoint")
    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.filter(pk=event.pk, reason=event.reason).exists()
    assert Signature.objects.exists() and AuditCheckpoint.objects.exists()


@requires_postgres
def test_postgres_refuses_truncate_of_the_trail(event):
    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks pending
        cursor.execute("TRUNCATE audit_auditevent")


@pytest.mark.django_db
def test_admin_shows_events_but_cannot_add_change_or_delete(client, event):
    staff = User.objects.create_user("viewer", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    site_member(staff, "network")  # an auditor of the whole network
    client.force_login(staff)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {}).status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {}).status_code == 403
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, hash=event.hash).exists()


@pytest.mark.django_db
def test_admin_audit_pages_need_the_view_permission(client, event):
    staff = User.objects.create_user("nosy", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/audit/auditevent/").status_code == 403


# --- users and groups ---------------------------------------------------------------


@pytest.mark.django_db
def test_user_changes_reach_the_trail_without_the_password_hash(production_user):
    user = User.objects.create_user("newcomer", password="first-password-123")
    created = AuditEvent.objects.for_object(user).get()
    assert created.action == "create" and created.actor is None  # no context: the system
    assert "password" not in created.changes
    with audit_context(actor=production_user, reason="password reset"):
        user.set_password("second-password-456")
        user.save()
    update = AuditEvent.objects.for_object(user).last()
    assert update.changes == {"password": ["(hidden)", "(changed)"]}
    assert update.actor == production_user
    assert user.password not in str(AuditEvent.objects.for_object(user).values_list("changes"))


@pytest.mark.django_db
def test_group_membership_changes_reach_the_trail(production_user):
    user = User.objects.create_user("joiner")
    with audit_context(actor=production_user, reason="joined QA"):
        user.groups.add(Group.objects.get(name="auditor"))
        user.groups.remove(Group.objects.get(name="auditor"))
    actions = events_of(user)
    assert actions[-2:] == ["groups_add", "groups_remove"]
    added = AuditEvent.objects.for_object(user).get(action="groups_add")
    assert added.changes == {"groups": {"added": ["auditor"]}}
    assert added.reason == "joined QA"
    assert verify_chain().intact


# --- the system check ---------------------------------------------------------------


def test_the_project_has_no_unaudited_regulated_model():
    assert check_regulated_models_are_audited() == []


@isolate_apps("batches")
def test_a_regulated_model_without_the_audit_base_fails_the_check():
    from django.db import models

    class Sneaky(models.Model):
        name = models.CharField(max_length=10)

        class Meta:
            app_label = "batches"

    errors = audit_coverage_errors([Sneaky])
    assert [e.id for e in errors] == ["audit.E001"]


@isolate_apps("batches")
def test_an_audited_model_with_a_plain_many_to_many_fails_the_check():
    from django.db import models

    from audit.audited import AuditedModel

    class Tagged(AuditedModel):
        tags = models.ManyToManyField("auth.Group")

        class Meta:
            app_label = "batches"

    assert [e.id for e in audit_coverage_errors([Tagged])] == ["audit.E002"]


# --- concurrency and transactional tests ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_database_can_still_be_flushed(system_context):
    """The append-only triggers must not break Django's flush of the test database."""
    DonorFactory()
    assert AuditEvent.objects.exists()


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unforked_chain():
    writers, per_writer = 6, 15
    barrier = threading.Barrier(writers)
    errors = []

    def write(n):
        try:
            barrier.wait()
            with audit_context(actor=None, reason=f"writer {n}", origin=Origin.TEST):
                for i in range(per_writer):
                    with transaction.atomic():
                        Donor.objects.create(code=f"C{n}-{i}", age_at_donation=30, sex="F")
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
    seqs = list(AuditEvent.objects.values_list("seq", flat=True))
    assert len(seqs) == len(set(seqs))
    assert AuditEvent.objects.filter(object_type="batches.donor").count() == writers * per_writer
    result = verify_chain()
    assert result.intact, result.summary()
