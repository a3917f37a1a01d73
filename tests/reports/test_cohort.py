"""The cohort report on a hand-made cohort: every figure computed from the records, the
rules of improvement and evaluability, scoping, filters, CSV, the page and the PDF."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import Origin, audit_context
from reports import cohort, records
from tests.api.conftest import token_client
from tests.factories import BatchFactory, DonorFactory, PatientFactory

pytestmark = pytest.mark.django_db

D = datetime.date(2020, 4, 10)  # every hand-made patient's day of dose 1
PROTOCOL = "AT-MSC-COVID"


def _at(day: datetime.date, hour: int = 10, offset_days: int = 0) -> datetime.datetime:
    day = day + datetime.timedelta(days=offset_days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _days(n):
    return D + datetime.timedelta(days=n)


def _dose(patient, batch, number, *, at, weight, cells, method, actor):
    from dosing.models import Dose, Infusion, Preparation, Protocol

    protocol, _ = Protocol.objects.get_or_create(code=PROTOCOL, version=1)
    dose = Dose.objects.create(
        patient=patient, protocol=protocol, number=number, batch=batch,
        status=Dose.Status.INFUSED, planned_for=at, weight_kg=Decimal(weight),
        weight_measured_on=at.date(), required_cells=cells, planned_cells=cells,
        delivered_cells=cells, ordered_by=actor, ordered_at=at - datetime.timedelta(hours=6),
    )  # fmt: skip
    culture = {}
    if method == "refreshed":
        culture = {
            "seeded_at": at - datetime.timedelta(hours=72),
            "harvested_at": at - datetime.timedelta(hours=2),
            "viable_cells": cells,
        }
    Preparation.objects.create(
        dose=dose, method=method, thawed_at=at - datetime.timedelta(hours=74),
        medium="AB serum", prepared_by=actor, recorded_at=at, **culture,
    )  # fmt: skip
    Infusion.objects.create(
        dose=dose, started_at=at, ended_at=at + datetime.timedelta(minutes=30),
        filter_200um_confirmed=True, infused_by=actor, heart_rate_before=80,
        systolic_bp_before=120, diastolic_bp_before=70, spo2_pct_before=93,
        temperature_c_before=Decimal("36.8"), heart_rate_after=82, systolic_bp_after=118,
        diastolic_bp_after=72, spo2_pct_after=94, temperature_c_after=Decimal("36.9"),
        recorded_at=at,
    )  # fmt: skip
    return dose


def _obs(patient, kind, at, value):
    from patients.models import Observation

    Observation.objects.create(
        patient=patient, kind=kind, value=Decimal(value), unit=Observation.UNITS[kind],
        observed_at=at,
    )  # fmt: skip


def _course(patient, *, imv_days_before, outcomes=(), follow_up=None, ecmo_on=None):
    from patients.models import ClinicalOutcome, HospitalStay, SupportPeriod

    HospitalStay.objects.create(
        patient=patient, admitted_on=_days(-imv_days_before - 3),
        follow_up_ended_on=_days(follow_up) if follow_up is not None else None,
    )  # fmt: skip
    SupportPeriod.objects.create(
        patient=patient, kind="imv", started_at=_at(D, offset_days=-imv_days_before)
    )
    if ecmo_on is not None:
        SupportPeriod.objects.create(patient=patient, kind="ecmo", started_at=_at(_days(ecmo_on)))
    for kind, day in outcomes:
        ClinicalOutcome.objects.create(patient=patient, kind=kind, occurred_on=_days(day))


def _adverse(patient, dose, causality, actor):
    from dosing.models import AdverseEvent

    AdverseEvent.objects.create(
        patient=patient, dose=dose, onset_at=dose.infusion.started_at, description="event",
        ctcae_grade=2, serious=False, outcome="recovered", causality=causality,
        reported_by=actor, reported_at=dose.infusion.started_at,
    )  # fmt: skip


def hand_made_cohort(actor, hospital=None, prefix="TST"):
    """Three patients at `hospital` (HUS by default): see the figures worked out in
    test_every_figure_is_computed_from_the_records."""
    from patients.models import ChestXray

    donor_a, donor_b = DonorFactory(), DonorFactory()
    extra = {"hospital": hospital} if hospital else {}
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        # P1: two thawed doses three days apart; extubated day 6, out of ICU day 8.
        p1 = PatientFactory(code=f"{prefix}-R01", **extra)
        batch = BatchFactory(donor=donor_a)
        _dose(p1, batch, 1, at=_at(D), weight="80", cells=80_000_000, method="thawed",
              actor=actor)  # fmt: skip
        _dose(p1, batch, 2, at=_at(D, offset_days=3), weight="80", cells=72_000_000,
              method="thawed", actor=actor)  # fmt: skip
        _course(p1, imv_days_before=4, follow_up=16,
                outcomes=[("extubation", 6), ("icu_discharge", 8)])  # fmt: skip
        _obs(p1, "who_scale", _at(D, 8), "7")
        _obs(p1, "who_scale", _at(D, 8, 4), "5")
        for kind, before, after in [
            ("crp", "10", "5"), ("ldh", "500", "400"), ("lymphocytes", "0.5", "0.8"),
            ("ferritin", "800", "900"),
        ]:  # fmt: skip
            _obs(p1, kind, _at(D, 7), before)
            _obs(p1, kind, _at(D, 8, 5), after)
        # P2: one refreshed dose (other batch of donor A); died the next day.
        p2 = PatientFactory(code=f"{prefix}-R02", **extra)
        d2 = _dose(p2, BatchFactory(donor=donor_a), 1, at=_at(D), weight="50",
                   cells=60_000_000, method="refreshed", actor=actor)  # fmt: skip
        _course(p2, imv_days_before=10, follow_up=1, outcomes=[("death", 1)])
        _obs(p2, "crp", _at(D, 7), "20")
        _obs(p2, "crp", _at(D, 8, 5), "10")
        _adverse(p2, d2, "unlikely", actor)
        # P3: three refreshed doses (donor B), on ECMO from day 2, X-ray better on day 7.
        p3 = PatientFactory(code=f"{prefix}-R03", **extra)
        batch = BatchFactory(donor=donor_b)
        doses = [
            _dose(
                p3,
                batch,
                n + 1,
                at=_at(D, offset_days=2 * n),
                weight="100",
                cells=cells,
                method="refreshed",
                actor=actor,
            )  # fmt: skip
            for n, cells in enumerate([70_000_000, 80_000_000, 90_000_000])
        ]
        _course(p3, imv_days_before=7, follow_up=20, ecmo_on=2)
        ChestXray.objects.create(patient=p3, taken_on=D, wong_score=6)
        ChestXray.objects.create(patient=p3, taken_on=_days(7), wong_score=4)
        _obs(p3, "crp", _at(D, 7), "20")
        _obs(p3, "crp", _at(D, 8, 5), "10")
        _adverse(p3, doses[0], "possible", actor)
    return [p1, p2, p3]


def _summary(median, q1, q3, n):
    return {"median": median, "q1": q1, "q3": q3, "iqr": round(q3 - q1, 2), "n": n}


def test_every_figure_is_computed_from_the_records(clinician, pharmacist):
    hand_made_cohort(pharmacist)

    body = token_client(clinician).get("/api/v1/reports/cohort/").json()

    assert body["patients_treated"] == 3
    assert body["donors"] == 2
    assert body["doses"] == 6
    assert body["doses_per_patient"] == {"1": 1, "2": 1, "3": 1}
    assert body["preparation"] == {"thawed": 1, "refreshed": 2}
    # 700k 800k 900k 900k 1.0M 1.2M: median at 3.5, q1 at 1.75, q3 at 5.25.
    assert body["cells_per_kg_per_dose"] == _summary(900_000, 775_000, 1_050_000, 6)
    # 2 and 3 days: q1 at 0.75 → the first, q3 at 2.25 → the last.
    assert body["days_dose1_to_dose2"] == _summary(2.5, 2, 3, 2)
    assert body["days_ventilation_to_dose1"] == {
        "all": _summary(7, 4, 10, 3),
        "extubated": _summary(4, 4, 4, 1),
        "not_extubated": _summary(8.5, 7, 10, 2),
    }
    assert body["follow_up_days"] == _summary(16, 1, 20, 3)
    assert body["outcomes"] == {
        "improved": 2, "extubated": 1, "icu_discharged": 1, "died": 1,
        "still_ventilated": 1, "ecmo": 1,
    }  # fmt: skip
    assert body["adverse_events_by_causality"] == {
        "certain": 0, "probable": 0, "possible": 1, "unlikely": 1, "conditional": 0,
        "unassessable": 0,
    }  # fmt: skip
    assert body["related_adverse_events"] == 1
    # Improved: P1 and P3; P3 was on ECMO before day 5, so only P1 is evaluable.
    assert body["lab_day5"] == {
        "crp": {"expected": "decrease", "as_expected": 1, "evaluable": 1},
        "ldh": {"expected": "decrease", "as_expected": 1, "evaluable": 1},
        "d_dimer": {"expected": "decrease", "as_expected": 0, "evaluable": 0},
        "ferritin": {"expected": "decrease", "as_expected": 0, "evaluable": 1},
        "il6": {"expected": "decrease", "as_expected": 0, "evaluable": 0},
        "lymphocytes": {"expected": "increase", "as_expected": 1, "evaluable": 1},
    }
    assert body["published"]["outcomes.improved"]["value"] == 9


def test_a_new_record_changes_the_figures(clinician, pharmacist):
    from patients.models import ClinicalOutcome

    p1, _, p3 = hand_made_cohort(pharmacist)
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        ClinicalOutcome.objects.create(patient=p3, kind="extubation", occurred_on=_days(12))

    body = token_client(clinician).get("/api/v1/reports/cohort/").json()

    assert body["outcomes"]["extubated"] == 2
    assert body["outcomes"]["still_ventilated"] == 0
    assert body["days_ventilation_to_dose1"]["extubated"] == _summary(5.5, 4, 7, 2)


def test_rows_explain_each_patient_and_export_as_csv(auditor, pharmacist):
    hand_made_cohort(pharmacist)
    client = token_client(auditor)

    rows = client.get("/api/v1/reports/cohort/patients/").json()
    table = client.get("/api/v1/reports/cohort/patients/", {"format": "csv"})

    by_code = {row["patient"]: row for row in rows}
    assert by_code["TST-R01"]["improvement_criteria"] == [
        "extubation", "icu_discharge", "who_scale",
    ]  # fmt: skip
    assert by_code["TST-R02"]["lab_excluded"] == "died within 24 h of dose 1"
    assert by_code["TST-R03"]["improvement_criteria"] == ["radiographic"]
    assert by_code["TST-R03"]["lab_excluded"] == "on ECMO before day 5"
    assert by_code["TST-R03"]["cells_per_kg"] == [700_000, 800_000, 900_000]
    assert table["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(table.content.decode())))
    assert [line["patient"] for line in lines] == ["TST-R01", "TST-R02", "TST-R03"]
    assert lines[0]["lab_day5.crp"] == "true"
    assert lines[2]["batches"]


def test_scoped_to_the_readers_hospital_and_filtered(
    clinician, auditor, pharmacist, second_hospital
):
    hand_made_cohort(pharmacist)
    hand_made_cohort(pharmacist, hospital=second_hospital, prefix="FJD")

    own = token_client(clinician).get("/api/v1/reports/cohort/").json()
    everything = token_client(auditor).get("/api/v1/reports/cohort/").json()
    fjd = token_client(auditor).get("/api/v1/reports/cohort/", {"hospital": "FJD"}).json()
    later = token_client(auditor).get("/api/v1/reports/cohort/", {"since": "2020-04-11"}).json()
    other = token_client(auditor).get("/api/v1/reports/cohort/", {"protocol": "OTHER"}).json()
    rows = token_client(clinician).get("/api/v1/reports/cohort/patients/").json()

    assert own["patients_treated"] == 3
    assert {row["patient"][:3] for row in rows} == {"TST"}
    assert everything["patients_treated"] == 6
    assert fjd["patients_treated"] == 3
    assert later["patients_treated"] == 0
    assert other["patients_treated"] == 0
    assert other["published"] == {}


def test_bad_filter_is_a_400_with_field_errors(auditor):
    response = token_client(auditor).get(
        "/api/v1/reports/cohort/", {"since": "2020-05-01", "until": "2020-04-01"}
    )
    bad_date = token_client(auditor).get("/api/v1/reports/cohort/", {"since": "soon"})

    assert response.status_code == 400
    assert "until" in response.json()["errors"]
    assert bad_date.status_code == 400
    assert "since" in bad_date.json()["errors"]


def test_roles_without_patient_data_may_not_read_it(production_user):
    assert token_client(production_user).get("/api/v1/reports/cohort/").status_code == 403
    assert token_client(None).get("/api/v1/reports/cohort/").status_code == 401


@pytest.mark.parametrize("size", [1, 3])
def test_query_count_does_not_grow_with_the_cohort(
    auditor, pharmacist, size, django_assert_max_num_queries
):
    for index in range(size):
        hand_made_cohort(pharmacist, prefix=f"T{index}")
    client = token_client(auditor)

    # token (2) + permissions (2) + the reader's sites + patients + 6 prefetches + the
    # published figures.
    with django_assert_max_num_queries(13):
        response = client.get("/api/v1/reports/cohort/patients/")

    assert len(response.json()) == 3 * size


def test_the_api_schema_documents_both_paths(auditor):
    schema = token_client(auditor).get("/api/schema/", {"format": "json"}).json()

    figures = schema["paths"]["/api/v1/reports/cohort/"]["get"]
    assert {p["name"] for p in figures["parameters"]} >= {"hospital", "protocol", "since"}
    assert "/api/v1/reports/cohort/patients/" in schema["paths"]
    assert "lab_day5" in schema["components"]["schemas"]["CohortReport"]["properties"]


def test_page_shows_figures_beside_the_published_and_a_pdf(client, pharmacist):
    hand_made_cohort(pharmacist)
    client.force_login(pharmacist)

    page = client.get("/reports/cohort/")
    document = client.get("/reports/cohort/report.pdf")
    bad = client.get("/reports/cohort/", {"since": "never"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "outcomes.improved" in html and "9 (70 %)" in html
    assert "TST-R03" in html
    assert document["Content-Type"] == "application/pdf"
    assert document.content.startswith(b"%PDF")
    assert bad.status_code == 400


# --- the rules on plain values (no database) -----------------------------------------------


def _plain(**fields):
    dose = cohort.DoseFact(
        number=1, given_at=_at(D), cells_per_kg=None, donor_id=1, batch_code="B",
        protocol=PROTOCOL, protocol_version=1, method="thawed",
    )  # fmt: skip
    return cohort.Course(code="X", hospital="HUS", doses=(dose,), **fields)


def test_who_baseline_is_the_day_of_dose_one():
    better = _plain(observations=(("who_scale", _at(D, 8), 6), ("who_scale", _at(D, 8, 3), 5)))
    # The day before dose 1 it was 7: not the baseline.
    same = _plain(
        observations=(
            ("who_scale", _at(D, 8, -1), 7),
            ("who_scale", _at(D, 8), 6),
            ("who_scale", _at(D, 8, 3), 6),
        )
    )
    no_baseline = _plain(observations=(("who_scale", _at(D, 8, 3), 3),))

    assert cohort.improvement_criteria(better) == ["who_scale"]
    assert not cohort.improved(same)
    assert not cohort.improved(no_baseline)


def test_extubation_before_dose_one_is_not_improvement():
    assert not cohort.improved(_plain(outcomes={"extubation": _days(-2)}))
    assert cohort.improved(_plain(outcomes={"extubation": _days(2)}))


def test_ecmo_ended_before_dose_one_or_begun_after_day_five_keeps_labs_evaluable():
    ended = _plain(supports=(("ecmo", _at(D, 8, -3), _at(D, 8, -1)),))
    late = _plain(supports=(("ecmo", _at(D, 8, 6), None),))
    during = _plain(supports=(("ecmo", _at(D, 8, -3), None),))
    late_death = _plain(outcomes={"death": _days(2)})

    assert cohort.lab_excluded(ended) == ""
    assert cohort.lab_excluded(late) == ""
    assert cohort.lab_excluded(during) == "on ECMO before day 5"
    assert cohort.lab_excluded(late_death) == ""


def test_a_lab_value_needs_both_before_and_day_five():
    only_before = _plain(observations=(("crp", _at(D, 7), 10),))
    day4 = _plain(observations=(("crp", _at(D, 7), 10), ("crp", _at(D, 7, 4), 5)))
    both = _plain(observations=(("crp", _at(D, 7), 10), ("crp", _at(D, 7, 5), 5)))

    assert cohort.lab_as_expected(only_before, "crp") is None
    assert cohort.lab_as_expected(day4, "crp") is None
    assert cohort.lab_as_expected(both, "crp") is True


# --- charts ----------------------------------------------------------------------------------


def test_chart_data_lanes_doses_and_lab_lines(pharmacist):
    hand_made_cohort(pharmacist)
    from patients.models import Patient
    from reports import charts

    courses = records.load_courses(Patient.objects.all())
    lanes = {lane.patient: lane for lane in charts.swimlanes(courses)}
    labs = charts.lab_lines(courses)

    assert len(lanes) == 3
    assert sum(len(lane.doses) for lane in lanes.values()) == 6
    assert lanes["TST-R01"].doses == (0.0, 3.0)
    assert lanes["TST-R01"].supports == (("imv", -4.0, 16.0),)
    assert lanes["TST-R03"].supports[1] == ("ecmo", 2.0, 20.0)
    assert ("death", 1.0) in lanes["TST-R02"].outcomes
    assert labs["crp"] == [("TST-R01", 10.0, 5.0)]  # TST-R03 was on ECMO before day 5
    assert len(charts.cells_per_kg_points(courses)) == 6


def test_charts_are_pngs_when_matplotlib_is_installed(client, pharmacist):
    from reports import charts

    hand_made_cohort(pharmacist)
    client.force_login(pharmacist)
    unknown = client.get("/reports/cohort/chart/pie.png")
    assert unknown.status_code == 404
    if not charts.available():
        assert client.get("/reports/cohort/chart/swimlanes.png").status_code == 503
        pytest.skip("matplotlib is not installed")
    for name in charts.CHARTS:
        response = client.get(f"/reports/cohort/chart/{name}.png")
        assert response["Content-Type"] == "image/png"
        assert response.content.startswith(b"\x89PNG")
    assert "chart/swimlanes.png" in client.get("/reports/cohort/").content.decode()
