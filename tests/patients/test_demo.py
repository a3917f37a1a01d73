"""The demo cohort has the shape of the paper's series and can be loaded twice."""

import io
import statistics

import pytest
from django.contrib.auth.models import Group, User

from audit.context import audit_context
from patients import demo
from patients.eligibility import evaluate_eligibility
from patients.models import ClinicalOutcome, Observation, Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(db):
    made = {}
    for role in ["production", "qp", "pharmacy", "clinician", "auditor"]:
        user = User.objects.create_user(username=f"demo-{role}")
        user.groups.add(Group.objects.get(name=role))
        made[role] = user
    return made


def _seed(users):
    with audit_context(actor=users["production"], reason="demo data"):
        demo.seed(users=users, stdout=io.StringIO())


def test_demo_cohort_matches_the_papers_summary_and_is_idempotent(users):
    _seed(users)
    _seed(users)
    patients = list(Patient.objects.all())
    assert len(patients) == 13
    assert len({p.hospital for p in patients}) == 4
    assert sum(p.sex == "M" for p in patients) == 12
    ages = sorted(p.age_years for p in patients)
    assert statistics.median(ages) == 60
    # Eligible on the day of their first dose; the outcomes recorded since (death,
    # extubation, ICU discharge) make most of them not eligible today.
    assert all(
        evaluate_eligibility(p, on=demo.FIRST_DOSE_ON[p.code]).is_eligible for p in patients
    )
    assert all(60 <= p.current_weight().weight_kg <= 110 for p in patients)
    outcomes = ClinicalOutcome.objects
    assert outcomes.filter(kind="extubation").count() == 7
    assert outcomes.filter(kind="icu_discharge").count() == 7
    assert outcomes.filter(kind="death").count() == 2
    assert Observation.objects.filter(note="day 5", kind="ldh").count() == 11
    assert set(demo.FIRST_DOSE_ON) == {p.code for p in patients}
