"""The cohort report at a network's size: constant queries, capped swimlanes, cached and
revalidated charts that never cross hospitals, an exact and fast sort for the quartiles."""

import datetime
from fractions import Fraction

import pytest
from django.utils import timezone

from reports import charts, cohort
from reports.stats import exactly_sorted
from tests.api.conftest import token_client
from tests.factories import HospitalFactory
from tests.reports.synthetic import build_cohort

API = ["/api/v1/reports/cohort/", "/api/v1/reports/cohort/patients/"]
PAGES = ["/reports/cohort/", *(f"/reports/cohort/chart/{name}.png" for name in charts.CHARTS)]


@pytest.mark.django_db
@pytest.mark.parametrize("size", [3, 15])
def test_query_counts_do_not_grow_with_the_cohort(
    auditor, pharmacist, client, size, django_assert_max_num_queries
):
    build_cohort(size, actor=pharmacist, hospital=HospitalFactory())
    api = token_client(auditor)
    client.force_login(auditor)

    # token (2) + permissions (2) + the reader's sites + patients + 6 record queries +
    # the published figures; the figures also read the trail's head and their cache, and
    # on a miss write it (count, insert and their savepoints); on a hit only the read.
    for url, params, limit in [
        (API[0], {}, 19),
        (API[0], {}, 7),
        (API[1], {}, 13),
        (API[1], {"format": "csv"}, 13),
    ]:
        with django_assert_max_num_queries(limit):
            response = api.get(url, params)
        assert response.status_code == 200
    # The page: session + user + permissions + sites + patients + 6 + published. A chart:
    # no published figures, but its cache: a read and, on a miss, the write (count,
    # insert and their savepoints); a hit only the read.
    for url, limit in [(PAGES[0], 13), *((url, 18) for url in PAGES[1:])]:
        with django_assert_max_num_queries(limit):
            response = client.get(url)
        assert response.status_code == 200
    with django_assert_max_num_queries(13):
        assert client.get(PAGES[1]).status_code == 200  # from the cache
    assert len(api.get(API[1]).json()) == size


@pytest.mark.django_db
def test_a_chart_is_cached_revalidated_and_never_served_to_another_hospital(
    pharmacist, clinician, second_hospital, client
):
    from tests.conftest import role_user
    from tests.reports.test_cohort import hand_made_cohort

    hand_made_cohort(pharmacist)
    hand_made_cohort(pharmacist, hospital=second_hospital, prefix="FJD")
    other = role_user("clin-fjd", "clinician", second_hospital)
    url = "/reports/cohort/chart/swimlanes.png"

    client.force_login(clinician)
    first = client.get(url)
    again = client.get(url, headers={"if-none-match": first["ETag"]})
    client.force_login(other)
    theirs = client.get(url)
    stale = client.get(url, headers={"if-none-match": first["ETag"]})

    assert first.status_code == 200 and "no-store" in first["Cache-Control"]
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    assert theirs.status_code == 200 and theirs["ETag"] != first["ETag"]
    assert stale.status_code == 200 and stale.content == theirs.content
    assert stale.content != first.content


def test_the_cache_key_includes_the_readers_scope(pharmacist, auditor, db):
    data = charts.CellsData(("P1",), (("P1", 1, 1.0),))

    hospital = charts_digest(pharmacist, data)
    network = charts_digest(auditor, data)

    assert hospital != network
    assert charts_digest(pharmacist, data) == hospital
    assert charts_digest(pharmacist, charts.CellsData(("P1",), (("P1", 1, 2.0),))) != hospital


def charts_digest(user, data):
    from reports.views import chart_digest

    return chart_digest(user, "cells", {}, data)


def _course(code: str, day: int) -> cohort.Course:
    at = timezone.make_aware(datetime.datetime(2020, 4, 1, 10) + datetime.timedelta(days=day))
    dose = cohort.DoseFact(
        number=1, given_at=at, cells_per_kg=Fraction(900_000), donor_id=1, batch_code="B",
        protocol="AT-MSC-COVID", protocol_version=1, method="thawed",
    )  # fmt: skip
    return cohort.Course(code=code, hospital="HUS", doses=(dose,))


def test_the_swimlanes_show_the_first_patients_by_dose_one_and_say_so():
    courses = [_course("C", 0), _course("A", 2), _course("B", 1)]

    shown, treated, caption = charts.first_lanes(courses, limit=2)
    everyone = charts.first_lanes(courses, limit=5)

    assert [c.code for c in shown] == ["C", "B"]
    assert treated == 3
    assert caption == "First 2 of 3 patients by date of dose 1"
    assert everyone[2] == "All 3 patients, by date of dose 1"


def test_the_chart_data_caps_the_lanes_but_not_the_other_charts(monkeypatch):
    monkeypatch.setattr(charts, "SWIMLANE_LIMIT", 2)
    courses = [_course(f"P{i}", i) for i in range(5)]

    lanes = charts.chart_data("swimlanes", courses)
    cells = charts.chart_data("cells", courses)

    assert [lane.patient for lane in lanes.lanes] == ["P0", "P1"]
    assert lanes.caption.startswith("First 2 of 5")
    assert len(cells.points) == 5


def test_the_fast_sort_is_exact_where_floats_tie():
    tiny = Fraction(1, 10**30)
    values = [Fraction(1) + tiny, Fraction(1), Fraction(1) + 2 * tiny, Fraction(1, 2), 3]

    assert float(values[0]) == float(values[1])  # floats alone could not order these
    assert exactly_sorted(values) == sorted(Fraction(v) for v in values)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [3, 15])
def test_the_page_stays_within_its_queries_when_the_session_activity_is_written(
    auditor, pharmacist, client, size, monkeypatch, django_assert_max_num_queries
):
    """Why the page once answered with 14 queries at 20,000 patients and 10 at 2,000: a
    report that takes more than `SESSION_ACTIVITY_REFRESH_SECONDS` between two requests
    of one session makes the next one write the session's activity (core.sessions.touch:
    the user's groups, then the session row's update). A cost of the clock, once a
    minute, not of the cohort: the page's count, with that write, is the same at any size."""
    from core import sessions

    build_cohort(size, actor=pharmacist, hospital=HospitalFactory())
    client.force_login(auditor)
    assert client.get(PAGES[0]).status_code == 200
    later = sessions.now() + 2 * 60
    monkeypatch.setattr(sessions, "now", lambda: later)

    with django_assert_max_num_queries(14) as captured:
        response = client.get(PAGES[0])

    assert response.status_code == 200
    assert any("django_session" in q["sql"] and "UPDATE" in q["sql"] for q in captured)


def test_the_fast_sort_is_exact_inside_runs_of_repeated_values():
    tiny = Fraction(1, 10**30)
    values = [Fraction(7, 8)] * 50 + [Fraction(7, 8) + tiny, Fraction(7, 8) - tiny, 1] * 3

    assert exactly_sorted(values) == sorted(values)
