"""The demo's clinical course gives the paper's patient-side figures (ventilation → dose 1,
follow-up, outcomes, day-5 labs) once each patient has a dose 1 at 10:00 of its day, as
the dosing demo gives it. (Donors, cells/kg and the dose interval come from the dosing
demo's shipments and are not checked here.)"""

import datetime
import io

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from audit.context import Origin, audit_context
from patients import demo
from patients.models import Patient
from reports import cohort
from tests.factories import BatchFactory
from tests.reports.test_cohort import _dose

pytestmark = pytest.mark.django_db


def _summary(median, iqr, n):
    return {"median": median, "iqr": iqr, "n": n}


def test_demo_course_reproduces_the_papers_figures():
    users = {}
    for role in ["production", "qp", "pharmacy", "clinician", "auditor"]:
        users[role] = User.objects.create_user(username=f"demo-{role}")
        users[role].groups.add(Group.objects.get(name=role))
    with audit_context(actor=users["production"], reason="demo data"):
        demo.seed(users=users, stdout=io.StringIO())
    batch = BatchFactory()
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        for code, day in demo.FIRST_DOSE_ON.items():
            at = timezone.make_aware(datetime.datetime.combine(day, datetime.time(10)))
            _dose(Patient.objects.get(code=code), batch, 1, at=at, weight="80",
                  cells=80_000_000, method="thawed", actor=users["pharmacy"])  # fmt: skip

    figures = cohort.figures(cohort.load_courses(Patient.objects.all()))

    def shape(summary):
        return {key: summary[key] for key in ("median", "iqr", "n")}

    ventilation = figures["days_ventilation_to_dose1"]
    assert shape(ventilation["all"]) == _summary(7, 12, 13)
    assert shape(ventilation["extubated"]) == _summary(5, 11, 7)
    assert shape(ventilation["not_extubated"]) == _summary(10, 15, 6)
    assert shape(figures["follow_up_days"]) == _summary(16, 9, 13)
    assert figures["outcomes"] == {
        "improved": 9, "extubated": 7, "icu_discharged": 7, "died": 2,
        "still_ventilated": 4, "ecmo": 2,
    }  # fmt: skip
    counts = {k: (v["as_expected"], v["evaluable"]) for k, v in figures["lab_day5"].items()}
    assert counts["crp"] == (8, 9)
    assert counts["ldh"] == (9, 9)
    assert counts["d_dimer"] == (5, 8)
    assert counts["ferritin"] == (5, 8)
    assert counts["lymphocytes"] == (5, 6)
