"""Facility moved from `batches` to `sites` (migrations sites 0001, batches 0003): rows,
ids, foreign keys, permissions and the facility's audit history all survive the move,
and the move can be undone."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from audit.context import Origin, audit_context
from audit.writer import write_event
from batches.models import Batch
from sites.admin import facility_history
from sites.models import Facility

BEFORE_MOVE = ("batches", "0002_alter_bag_volume_ml_alter_procurement_fat_weight_g_and_more")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


def old_records(apps):
    """A facility and a batch made there, as the schema before the move had them."""
    facility = apps.get_model("batches", "Facility").objects.create(
        fin="EOLD1", name="Old GMP unit", authorisation_ref="AEMPS-OLD"
    )
    donor = apps.get_model("batches", "Donor").objects.create(
        code="DON-OLD", age_at_donation=30, sex="F"
    )
    procurement = apps.get_model("batches", "Procurement").objects.create(
        donor=donor,
        procured_on=datetime.date(2026, 3, 1),
        site="Old hospital",
        lipoaspirate_volume_ml=100,
        fat_weight_g=50,
        performed_by="Dr Old",
    )
    spec = apps.get_model("batches", "ReleaseSpecification").objects.create(
        code="OLD-SPEC", version=1, effective_from=datetime.date(2026, 1, 1)
    )
    batch = apps.get_model("batches", "Batch").objects.create(
        din="EOLD126000001",
        din_check="X",
        donor=donor,
        procurement=procurement,
        facility=facility,
        impd_reference="PEI-15-103",
        specification=spec,
    )
    return facility, batch


@pytest.mark.django_db(transaction=True)
def test_facility_move_keeps_rows_permissions_and_history(client, admin_user):
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    ct_id = ContentType.objects.get_for_model(Facility).pk
    change_facility = Permission.objects.get(content_type_id=ct_id, codename="change_facility")
    assert change_facility in Group.objects.get(name="production").permissions.all()

    executor = migrate([("sites", None)])  # undo the move
    assert ContentType.objects.filter(pk=ct_id, app_label="batches").exists()
    facility, batch = old_records(executor.loader.project_state([BEFORE_MOVE]).apps)
    with audit_context(actor=None, reason="recorded before the move", origin=Origin.TEST):
        write_event(
            action="create",
            object_type="batches.facility",
            object_id=str(facility.pk),
            object_repr="EOLD1",
        )

    migrate(leaves)  # and make it again
    ContentType.objects.clear_cache()

    moved = Facility.objects.get(pk=facility.pk)
    assert (moved.fin, moved.name, moved.authorisation_ref) == (
        "EOLD1",
        "Old GMP unit",
        "AEMPS-OLD",
    )
    assert Batch.objects.get(pk=batch.pk).facility == moved
    # The same content type (renamed), so the same permissions and the groups holding them.
    assert ContentType.objects.get_for_model(Facility).pk == ct_id
    assert Permission.objects.get(pk=change_facility.pk).content_type_id == ct_id
    assert change_facility in Group.objects.get(name="production").permissions.all()
    # Events keep the name they were written with; the facility's history reads both.
    with audit_context(actor=None, reason="renamed after the move", origin=Origin.TEST):
        moved.name = "New GMP unit"
        moved.save()
    history = list(facility_history(moved))
    assert [e.object_type for e in history] == ["batches.facility", "sites.facility"]

    client.force_login(admin_user)
    page = client.get(reverse("admin:sites_facility_history", args=[moved.pk]))
    content = page.content.decode()
    assert "recorded before the move" in content and "renamed after the move" in content
