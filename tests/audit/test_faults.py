"""Faults: each domain operation that fails after its first write leaves the database as
it was — no record, no custody event, no audit event, no signature of the half-done step.

The failure is injected into the audit writer's second call: the operation has then
written one record and its event, and is about to write the next."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from audit import audited
from batches import services as batch_services
from dosing import services
from tests.dosing.flow import VITALS, allocated, dispensed_thawed, hours, scan_at_bedside
from tests.factories import (
    PatientFactory,
    ProtocolFactory,
    make_release_ready_batch,
    released_batch_with_bags,
)

pytestmark = pytest.mark.django_db

SKIPPED_TABLES = {"django_session", "celltrack_cache", "axes_accessattempt", "axes_accesslog"}


class Injected(RuntimeError):
    pass


def database_state() -> dict:
    """Every row of every table, as the database holds it."""
    state = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table in SKIPPED_TABLES:
                continue
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608  (our own tables)
            state[table] = sorted(map(repr, cursor.fetchall()))
    return state


@pytest.fixture
def fail_after_first_write(monkeypatch):
    """Let the first audited write through, raise on the second."""
    calls = {"n": 0}

    def wrap(real):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] >= 2:
                raise Injected("injected failure after the first write")
            return real(*args, **kwargs)

        return wrapper

    def arm():
        for name in ("append_change", "append_changes", "append_bulk_create"):
            monkeypatch.setattr(audited, name, wrap(getattr(audited, name)))
        return calls

    return arm


def assert_unchanged_after_failure(arm, operation):
    before = database_state()
    calls = arm()
    with pytest.raises(Injected):
        operation()
    assert calls["n"] >= 2, "the operation failed before it wrote anything"
    after = database_state()
    changed = [t for t in before if before[t] != after.get(t)]
    assert changed == []


@pytest.fixture
def setting(db):
    ProtocolFactory()
    released_batch_with_bags([75_000_000, 75_000_000, 75_000_000, 60_000_000])
    return PatientFactory(weight_kg=78)


def test_allocation(setting, pharmacist, fail_after_first_write):
    dose = services.order_dose(setting, actor=pharmacist)
    assert_unchanged_after_failure(
        fail_after_first_write, lambda: services.allocate_dose(dose, actor=pharmacist)
    )


def test_thaw(setting, pharmacist, fail_after_first_write):
    at = timezone.now() - hours(1)
    dose = allocated(setting, pharmacist, at=at)
    assert_unchanged_after_failure(
        fail_after_first_write,
        lambda: services.record_thaw(
            dose, actor=pharmacist, at=at + datetime.timedelta(minutes=5)
        ),
    )


def test_refresh(setting, pharmacist, fail_after_first_write):
    now = timezone.now()
    dose = allocated(setting, pharmacist, at=now - hours(50))
    seeded = now - hours(48)
    assert_unchanged_after_failure(
        fail_after_first_write,
        lambda: services.record_refresh(
            dose,
            actor=pharmacist,
            thawed_at=seeded - hours(1),
            seeded_at=seeded,
            harvested_at=now - hours(1),
            viable_cells=76_000_000,
            viability_pct=Decimal("94.0"),
            volume_ml=Decimal("50.0"),
            at=now,
        ),
    )


def test_dispense(setting, pharmacist, fail_after_first_write):
    at = timezone.now() - hours(1)
    dose = allocated(setting, pharmacist, at=at)
    services.record_thaw(dose, actor=pharmacist, at=at + datetime.timedelta(minutes=5))
    assert_unchanged_after_failure(
        fail_after_first_write,
        lambda: services.dispense_dose(
            dose, actor=pharmacist, at=at + datetime.timedelta(minutes=10)
        ),
    )


def test_infusion(setting, pharmacist, clinician, fail_after_first_write):
    at = timezone.now() - hours(1)
    dose = dispensed_thawed(setting, pharmacist, at=at)
    scan_at_bedside(dose, clinician, at=at + datetime.timedelta(minutes=15))
    assert_unchanged_after_failure(
        fail_after_first_write,
        lambda: services.record_infusion(
            dose,
            actor=clinician,
            started_at=at + datetime.timedelta(minutes=20),
            ended_at=at + datetime.timedelta(minutes=40),
            filter_confirmed=True,
            premedication_given="methylprednisolone",
            vitals=VITALS,
            at=at + datetime.timedelta(minutes=45),
        ),
    )


def test_release(qp_user, password, fail_after_first_write):
    batch = make_release_ready_batch(expires_on=datetime.date(2099, 1, 1))
    assert_unchanged_after_failure(
        fail_after_first_write,
        lambda: batch_services.release_batch(batch, actor=qp_user, password=password),
    )


def test_correction(qp_user, production_user, password, fail_after_first_write):
    batch = make_release_ready_batch(expires_on=datetime.date(2099, 1, 1))
    released = batch_services.release_batch(batch, actor=qp_user, password=password)
    assert_unchanged_after_failure(
        fail_after_first_write,
        lambda: batch_services.correct_batch(
            released, actor=production_user, reason="passage count mis-transcribed", passages=3
        ),
    )
