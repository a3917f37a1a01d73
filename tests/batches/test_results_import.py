"""Results imported from a file: every error kind refused with its row number before
anything is written; a good file written in one transaction through the manual entry's
service, audited with the file's name and checksum."""

import base64
import datetime
import hashlib
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from batches import imports, services
from batches.models import AssayMethod, Batch, ReleaseCheck
from tests.conftest import role_user
from tests.factories import BatchFactory, ReleaseSpecificationFactory, SpecificationItemFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:batches_batch_import_results")
HEADER = "batch code,specification item,value,unit,method/instrument,date measured\n"


@pytest.fixture
def setup(system_context):
    spec = ReleaseSpecificationFactory()
    SpecificationItemFactory(specification=spec, parameter="CD73", lower_limit=95)
    SpecificationItemFactory(
        specification=spec,
        parameter="HLA-DR",
        kind="max",
        lower_limit=None,
        upper_limit=2,
    )
    SpecificationItemFactory(
        specification=spec,
        category="sterility",
        parameter="Sterility",
        kind="expected",
        lower_limit=None,
        expected_result="negative",
        unit="",
    )
    SpecificationItemFactory(
        specification=spec,
        category="endotoxin",
        parameter="Endotoxin",
        kind="max",
        lower_limit=None,
        upper_limit=Decimal("0.5"),
        unit="EU/mL",
    )
    for name, unit, low, high in [
        ("FACSCanto II", "%", 0, 100),
        ("BacT/ALERT 3D", "", None, None),
        ("LAL kinetic chromogenic", "EU/mL", Decimal("0.005"), 50),
    ]:
        services.create_assay_method(
            actor=None, name=name, unit=unit, reportable_min=low, reportable_max=high
        )
    return BatchFactory(specification=spec, status=Batch.Status.IN_PRODUCTION)


def csv_of(*lines):
    return (HEADER + "".join(line + "\n" for line in lines)).encode()


def good_lines(batch):
    return [
        f"{batch.code},CD73,98.2,%,FACSCanto II,2026-03-28",
        f"{batch.code},HLA-DR,0.4,%,FACSCanto II,2026-03-28",
        f"{batch.code},Sterility,negative,,BacT/ALERT 3D,2026-03-30",
        f"{batch.code},Endotoxin,0.12,EU/mL,LAL kinetic chromogenic,2026-03-29",
    ]


def errors_of(content, user, reason=""):
    return imports.preview("results.csv", content, user=user, reason=reason).errors


def test_good_file_previews_pass_fail_without_error(setup, production_user):
    lines = good_lines(setup)
    lines[0] = lines[0].replace("98.2", "90")  # fails its limit, still a valid row
    preview = imports.preview("r.csv", csv_of(*lines), user=production_user)
    assert preview.errors == []
    assert [row.passed for row in preview.rows] == [False, True, True, True]
    assert not ReleaseCheck.objects.exists()  # a preview writes nothing


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "E9999999999999,CD73,98,%,FACSCanto II,2026-03-28",
            "Row 3: unknown batch E9999999999999.",
        ),
        ("{code},CD999,98,%,FACSCanto II,2026-03-28", "Row 3: unknown item CD999"),
        ("{code},CD73,98,EU/mL,FACSCanto II,2026-03-28", "Row 3: unit EU/mL does not match"),
        ("{code},CD73,98,%,Unknown cytometer,2026-03-28", "Row 3: unknown method/instrument"),
        (
            "{code},Endotoxin,0.001,EU/mL,LAL kinetic chromogenic,2026-03-28",
            "Row 3: value 0.001 is outside LAL kinetic chromogenic's reportable range",
        ),
        ("{code},CD73,ninety,%,FACSCanto II,2026-03-28", "Row 3: CD73: 'ninety' is not a number."),
        ("{code},CD73,98,%,FACSCanto II,28/03/2026", "Row 3: date measured 28/03/2026 is not"),
        ("{code},HLA-DR,0.9,%,FACSCanto II,2026-03-28", "Row 3: {code} HLA-DR is also on row 2."),
    ],
)
def test_each_error_is_refused_with_its_row_number(setup, production_user, line, expected):
    content = csv_of(
        f"{setup.code},HLA-DR,0.4,%,FACSCanto II,2026-03-28", line.format(code=setup.code)
    )
    errors = errors_of(content, production_user)
    assert any(e.startswith(expected.format(code=setup.code)) for e in errors), errors


def test_change_to_a_stored_result_needs_a_reason(setup, production_user):
    item = setup.specification.items.get(parameter="CD73")
    services.record_check(setup, item, actor=None, tested_on="2026-03-27", value="97")
    content = csv_of(f"{setup.code},CD73,98.2,%,FACSCanto II,2026-03-28")
    [error] = errors_of(content, production_user)
    assert error.startswith("Row 2: changes the stored result")
    assert errors_of(content, production_user, reason="instrument re-gated") == []


def test_batch_of_another_facility_is_unknown(setup, second_facility):
    other = role_user("prod2", "production", second_facility)
    errors = errors_of(csv_of(good_lines(setup)[0]), other)
    assert errors == [f"Row 2: unknown batch {setup.code}."]


def test_missing_column_and_wrong_kind_of_file(setup, production_user):
    with pytest.raises(imports.ImportFileError, match="lacks the column"):
        imports.preview("r.csv", b"batch code,value\nX,1\n", user=production_user)
    with pytest.raises(imports.ImportFileError, match="csv or .xlsx"):
        imports.preview("r.txt", b"x", user=production_user)


def test_import_writes_in_one_transaction_audited_with_name_and_checksum(setup, production_user):
    content = csv_of(*good_lines(setup))
    preview = imports.preview("flow.csv", content, user=production_user)
    saved = imports.import_results(preview, actor=production_user)
    assert len(saved) == 4
    events = AuditEvent.objects.filter(object_type="batches.releasecheck", action="create")
    assert events.count() == 4
    digest = hashlib.sha256(content).hexdigest()
    assert {e.reason for e in events} == {f"imported from flow.csv (SHA-256 {digest})"}
    assert {e.actor for e in events} == {production_user}


def test_a_refusal_rolls_back_the_whole_file(setup, production_user, monkeypatch):
    preview = imports.preview("flow.csv", csv_of(*good_lines(setup)), user=production_user)
    calls = []
    original = services.record_check

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise services.checks.BatchError("refused")
        return original(*args, **kwargs)

    monkeypatch.setattr("batches.services.checks.record_check", failing)
    with pytest.raises(services.checks.BatchError):
        imports.import_results(preview, actor=production_user)
    assert not ReleaseCheck.objects.exists()


def test_admin_journey_bad_row_then_good_file(client, setup, production_user):
    client.force_login(production_user)
    bad = good_lines(setup)
    bad[1] = bad[1].replace("HLA-DR", "HLA-DQ")
    response = client.post(IMPORT, {"file": SimpleUploadedFile("flow.csv", csv_of(*bad))})
    content = response.content.decode()
    assert response.status_code == 200
    assert "Row 3: unknown item HLA-DQ" in content
    assert 'id="preview-blocked"' in content and 'id="import-confirm"' not in content
    assert not ReleaseCheck.objects.exists()

    good = csv_of(*good_lines(setup))
    response = client.post(IMPORT, {"file": SimpleUploadedFile("flow.csv", good)})
    content = response.content.decode()
    assert 'id="import-confirm"' in content and "check-fail" not in content
    encoded = base64.b64encode(good).decode()
    assert encoded in content
    assert not ReleaseCheck.objects.exists()
    digest = hashlib.sha256(good).hexdigest()
    response = client.post(
        IMPORT,
        {"confirm": "1", "name": "flow.csv", "content": encoded, "checksum": digest},
    )
    assert response.status_code == 302
    assert ReleaseCheck.objects.filter(batch=setup).count() == 4
    event = AuditEvent.objects.filter(object_type="batches.releasecheck").latest("seq")
    assert event.origin == "admin" and digest in event.reason


def test_confirmation_with_a_changed_file_is_refused(client, setup, production_user):
    client.force_login(production_user)
    good = csv_of(*good_lines(setup))
    response = client.post(
        IMPORT,
        {
            "confirm": "1",
            "name": "flow.csv",
            "content": base64.b64encode(good).decode(),
            "checksum": "0" * 64,
        },
    )
    assert response.status_code == 200
    assert "differs from the one previewed" in response.content.decode()
    assert not ReleaseCheck.objects.exists()


def test_qp_cannot_import(client, qp_user):
    client.force_login(qp_user)
    assert client.get(IMPORT).status_code == 403


# The sample files of docs/samples/ name the demo's specification items (batch code
# SAMPLE_CODE) and the methods docs/results-import.md lists.
SAMPLE_CODE = "E0001260001058"
SAMPLE_ITEMS = [
    ("CD73", "min", "95", "%"),
    ("CD90", "min", "95", "%"),
    ("CD105", "min", "95", "%"),
    ("CD45", "max", "2", "%"),
    ("CD34", "max", "2", "%"),
    ("CD14", "max", "2", "%"),
    ("CD19", "max", "2", "%"),
    ("Sterility", "expected", "no growth", ""),
    ("Mycoplasma", "expected", "not detected", ""),
    ("Endotoxin", "max", "0.5", "EU/ml"),
]
SAMPLE_METHODS = [
    ("FACSCanto II", "%", 0, 100),
    ("BacT/ALERT 3D", "", None, None),
    ("MycoAlert PCR", "", None, None),
    ("LAL kinetic chromogenic", "EU/ml", Decimal("0.005"), 50),
]


def test_sample_files_in_docs_import_without_error(production_user, system_context, settings):
    from pathlib import Path

    spec = ReleaseSpecificationFactory()
    for parameter, kind, limit, unit in SAMPLE_ITEMS:
        SpecificationItemFactory(
            specification=spec,
            parameter=parameter,
            kind=kind,
            lower_limit=Decimal(limit) if kind == "min" else None,
            upper_limit=Decimal(limit) if kind == "max" else None,
            expected_result=limit if kind == "expected" else "",
            unit=unit,
        )
    for name, unit, low, high in SAMPLE_METHODS:
        AssayMethod.objects.create(name=name, unit=unit, reportable_min=low, reportable_max=high)
    batch = BatchFactory(specification=spec, status=Batch.Status.IN_PRODUCTION)
    samples = Path(settings.BASE_DIR) / "docs" / "samples"
    for name in ["flow-cytometry.csv", "sterility.csv", "endotoxin.csv"]:
        content = (samples / name).read_bytes().replace(SAMPLE_CODE.encode(), batch.code.encode())
        preview = imports.preview(name, content, user=production_user)
        assert preview.rows and preview.errors == [], (name, preview.errors)
        assert all(row.passed for row in preview.rows)
        imports.import_results(preview, actor=production_user)
    assert batch.checks.count() == len(SAMPLE_ITEMS)


def test_preview_queries_do_not_grow_with_rows(
    setup, production_user, django_assert_max_num_queries
):
    for lines in (good_lines(setup)[:1], good_lines(setup)):
        with django_assert_max_num_queries(12):
            imports.preview("r.csv", csv_of(*lines), user=production_user)
    assert AssayMethod.objects.count() == 3


def xlsx_of(*rows):
    """A workbook as a lab's spreadsheet saves it: numbers as numbers, dates as dates."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_rows(batch):
    day = datetime.datetime(2026, 3, 28)
    return [
        (batch.code, "CD73", 98.2, "%", "FACSCanto II", day),
        (batch.code, "HLA-DR", 0.4, "%", "FACSCanto II", day.date()),
        (batch.code, "Sterility", "negative", None, "BacT/ALERT 3D", "2026-03-30"),
        (batch.code, "Endotoxin", 0.12, "EU/mL", "LAL kinetic chromogenic", day),
    ]


def test_xlsx_file_previews_and_imports_like_its_csv(setup, production_user):
    content = xlsx_of(*xlsx_rows(setup))
    preview = imports.preview("flow.xlsx", content, user=production_user)
    assert preview.errors == []
    assert [row.passed for row in preview.rows] == [True, True, True, True]
    assert not ReleaseCheck.objects.exists()

    imports.import_results(preview, actor=production_user)

    checks = {c.item.parameter: c for c in ReleaseCheck.objects.filter(batch=setup)}
    assert checks["CD73"].result_value == Decimal("98.2")
    assert checks["CD73"].tested_on == datetime.date(2026, 3, 28)
    assert checks["Sterility"].result_text == "negative"
    digest = hashlib.sha256(content).hexdigest()
    reasons = set(
        AuditEvent.objects.filter(object_type="batches.releasecheck").values_list(
            "reason", flat=True
        )
    )
    assert reasons == {f"imported from flow.xlsx (SHA-256 {digest})"}


def test_xlsx_bad_rows_are_named_by_their_sheet_row_and_nothing_is_written(setup, production_user):
    rows = xlsx_rows(setup)
    rows[1] = (setup.code, "HLA-DR", 0.4, "EU/mL", "FACSCanto II", "2026-03-28")
    rows[3] = ("E9999999999999", *rows[3][1:])
    errors = imports.preview("flow.xlsx", xlsx_of(*rows), user=production_user).errors
    assert any(e.startswith("Row 3: unit EU/mL does not match") for e in errors), errors
    assert "Row 5: unknown batch E9999999999999." in errors
    assert not ReleaseCheck.objects.exists()


def test_a_file_named_xlsx_that_is_not_a_workbook_is_refused(setup, production_user):
    with pytest.raises(imports.ImportFileError, match="not a readable XLSX"):
        imports.preview("flow.xlsx", csv_of(*good_lines(setup)), user=production_user)
