"""Reconciliation: a record changed, inserted or deleted with SQL behind the application's
back is named by `verify_audit` (table, key, field, the row's value and the trail's), and
the verify endpoint reports the last run beside the chain."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.models import ReconciliationRun
from audit.verify.reconcile import (
    CHANGED_IN_DB,
    NO_TRAIL,
    ROW_MISSING,
    reconcile,
)
from dosing.models import Dose
from patients.models import WeightMeasurement
from tests.audit.history import clinical_history

pytestmark = pytest.mark.django_db


def sql(statement, params=()):
    """What someone with write access to the tables does: no service, no event."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def history(pharmacist, clinician):
    """A patient, an infused dose and a serious adverse event, all through the services."""
    return clinical_history(pharmacist, clinician)


def findings(result, kind=None):
    return [
        (f.table, f.key, f.field, f.row_value, f.trail_value)
        for f in result.findings
        if kind is None or f.kind == kind
    ]


def test_records_made_through_the_services_reconcile(history):
    result = reconcile()
    assert result.clean, [f.describe() for f in result.findings]
    assert result.rows_checked > 10
    assert result.models_checked >= 20


def test_a_doses_cells_changed_in_sql_are_named(history):
    _, dose, _ = history
    delivered = Dose.objects.get(pk=dose.pk).delivered_cells
    assert delivered
    sql("UPDATE dosing_dose SET delivered_cells = %s WHERE id = %s", [900_000_000, dose.pk])

    result = reconcile()

    assert not result.clean
    assert findings(result) == [
        ("dosing_dose", str(dose.pk), "delivered_cells", 900_000_000, delivered)
    ]
    assert "dosing_dose key" in result.findings[0].describe()
    assert "delivered_cells is 900000000 in the row" in result.findings[0].describe()


def test_a_weight_changed_in_sql_is_named(history):
    patient, _, _ = history
    weight = WeightMeasurement.objects.filter(patient=patient).get()
    sql("UPDATE patients_weightmeasurement SET weight_kg = %s WHERE id = %s", ["250.0", weight.pk])

    result = reconcile()

    ((table, key, field, row, trail),) = findings(result)
    assert (table, key, field) == ("patients_weightmeasurement", str(weight.pk), "weight_kg")
    assert float(row) == 250.0
    assert float(trail) == 78.0


def test_a_serious_adverse_event_downgraded_in_sql_is_named(history):
    _, _, event = history
    sql(
        "UPDATE dosing_adverseevent SET ctcae_grade = 1, serious = %s WHERE id = %s",
        [False, event.pk],
    )

    result = reconcile()

    assert sorted(findings(result, CHANGED_IN_DB)) == [
        ("dosing_adverseevent", str(event.pk), "ctcae_grade", 1, 3),
        ("dosing_adverseevent", str(event.pk), "serious", False, True),
    ]


def test_a_row_deleted_in_sql_is_named(history):
    _, _, event = history
    sql("DELETE FROM dosing_adverseevent WHERE id = %s", [event.pk])

    result = reconcile()

    assert findings(result) == [("dosing_adverseevent", str(event.pk), "", None, None)]
    assert result.findings[0].kind == ROW_MISSING


def test_a_row_inserted_in_sql_has_no_trail(history):
    patient, _, _ = history
    weight = WeightMeasurement.objects.filter(patient=patient).get()
    columns = [f.column for f in WeightMeasurement._meta.concrete_fields if not f.primary_key]
    values = [getattr(weight, f.attname) for f in WeightMeasurement._meta.concrete_fields
              if not f.primary_key]  # fmt: skip
    values = [connection.ops.adapt_datetimefield_value(v) if hasattr(v, "tzinfo") else v
              for v in values]  # fmt: skip
    sql(
        f"INSERT INTO patients_weightmeasurement ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})",
        values,
    )

    result = reconcile()

    assert [f.kind for f in result.findings] == [NO_TRAIL]
    assert result.findings[0].table == "patients_weightmeasurement"


def test_verify_audit_names_the_change_and_exits_non_zero(history, capsys):
    _, dose, _ = history
    sql("UPDATE dosing_dose SET delivered_cells = %s WHERE id = %s", [900_000_000, dose.pk])

    with pytest.raises(CommandError, match="records disagree with the audit trail: 1 findings"):
        call_command("verify_audit")

    out = capsys.readouterr().out
    assert "intact:" in out  # the chain itself is untouched
    assert f"dosing_dose key {dose.pk}: delivered_cells is 900000000 in the row" in out
    assert "NOT RECONCILED: 1 findings" in out
    run = ReconciliationRun.objects.get()
    assert not run.clean and run.findings_count == 1


def test_verify_audit_json_carries_the_reconciliation(history, capsys):
    call_command("verify_audit", "--json")
    payload = json.loads(capsys.readouterr().out)
    assert payload["intact"] is True
    assert payload["reconciliation"]["clean"] is True
    assert payload["reconciliation"]["rows_checked"] > 10


def test_verify_endpoint_reports_the_last_reconciliation(history, auditor, client):
    client.force_login(auditor)
    url = "/api/v1/audit-events/verify/"
    assert client.get(url).json()["reconciliation"] is None

    _, dose, _ = history
    sql("UPDATE dosing_dose SET delivered_cells = %s WHERE id = %s", [900_000_000, dose.pk])
    with pytest.raises(CommandError):
        call_command("verify_audit")

    body = client.get(url).json()
    assert body["intact"] is True
    reconciliation = body["reconciliation"]
    assert reconciliation["clean"] is False
    assert reconciliation["findings_count"] == 1
    assert "delivered_cells" in reconciliation["findings"][0]
    assert reconciliation["finished_at"]


def test_verify_endpoint_stays_a_few_queries(
    history, auditor, client, django_assert_max_num_queries
):
    call_command("verify_audit")
    client.force_login(auditor)
    client.get("/api/v1/audit-events/verify/")
    with django_assert_max_num_queries(12):
        response = client.get("/api/v1/audit-events/verify/")
    assert response.json()["reconciliation"]["clean"] is True


def test_reconciliation_reads_in_chunks(history, monkeypatch, django_assert_max_num_queries):
    """Per model a few queries per chunk of rows, never one per row."""
    from audit.verify import reconcile as module

    monkeypatch.setattr(module, "CHUNK", 2)
    result = module.reconcile()
    assert result.clean
    # rows / 2 chunks × 2 queries + 2 per model, with room
    limit = result.rows_checked + 4 * result.models_checked + 10
    with django_assert_max_num_queries(limit):
        module.reconcile()


def test_keys_of_every_length_meet_their_own_trail(production_user):
    """Rows and events are merged in the order of their key as text (length, then code
    point): 900001 comes before 1000000 on both sides, so each row meets its own events."""
    from audit.context import audit_context
    from batches.models import AssayMethod

    keys = [900_001, 1_000_000, 1_000_001, 9_000_000, 10_000_000, 123_456_789]
    with audit_context(actor=production_user):
        AssayMethod.objects.bulk_create(
            [AssayMethod(pk=key, name=f"Method {key}", unit="%") for key in keys]
        )
        recalibrated = AssayMethod.objects.get(pk=1_000_001)
        recalibrated.notes = "recalibrated"
        recalibrated.save()
    assert reconcile([AssayMethod]).clean

    sql("UPDATE batches_assaymethod SET unit = %s WHERE id = %s", ["mg", 10_000_000])
    sql("UPDATE batches_assaymethod SET notes = %s WHERE id = %s", ["", 1_000_001])
    sql("DELETE FROM batches_assaymethod WHERE id = %s", [1_000_000])
    sql(
        "INSERT INTO batches_assaymethod (id, name, unit, notes) VALUES (%s, %s, %s, %s)",
        [5_000_000, "Inserted", "%", ""],
    )

    result = reconcile([AssayMethod])

    table = "batches_assaymethod"
    found = [(f.kind, *row) for f, row in zip(result.findings, findings(result), strict=True)]
    assert sorted(found) == [
        (CHANGED_IN_DB, table, "10000000", "unit", "mg", "%"),
        (CHANGED_IN_DB, table, "1000001", "notes", "", "recalibrated"),
        (NO_TRAIL, table, "5000000", "", None, None),
        (ROW_MISSING, table, "1000000", "", None, None),
    ]
    assert result.rows_checked == AssayMethod._base_manager.count()


def test_reconciliation_is_two_queries_a_model_whatever_the_rows(
    history, monkeypatch, django_assert_max_num_queries
):
    """Per model one query for its rows and one for its events, each streamed in fetches
    (of two rows here): never a query per chunk of rows, let alone per row."""
    from audit.verify import reconcile as module

    monkeypatch.setattr(module, "CHUNK", 2)
    models_to_check = module.reconciled_models()
    with django_assert_max_num_queries(2 * len(models_to_check) + 2):
        result = module.reconcile(models_to_check)
    assert result.clean
    assert result.rows_checked > 2 * len(models_to_check)
