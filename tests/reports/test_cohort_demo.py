"""The demo's clinical course gives the paper's patient-side figures (ventilation → dose 1,
follow-up, outcomes, day-5 labs) once each patient has a dose 1 at 10:00 of its day, as
the dosing demo gives it. (Donors, cells/kg and the dose interval come from the dosing
demo's shipments: the tests at the end run the whole `seed_demo` and check them, and the
time order of every step.)"""

import datetime
import io
from collections import Counter

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.utils import timezone

from audit.context import Origin, audit_context
from audit.models import AuditEvent, Signature
from batches.models import Bag, Batch, Shipment
from dosing.models import Dose
from patients import demo
from patients.models import Patient
from reports import cohort, records
from tests.api.conftest import token_client
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

    figures = cohort.figures(records.load_courses(Patient.objects.all()))

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


# The paper's figures (Sánchez-Guijo et al. 2020) as it rounds them: cells per kg in
# ×10⁶ to two decimals, days to whole days.
PAPER = {
    "patients_treated": 13,
    "donors": 5,
    "doses": 25,
    "doses_per_patient": {"1": 2, "2": 10, "3": 1},
    "preparation": {"thawed": 6, "refreshed": 7},
    "cells_per_kg_per_dose": (0.98, 0.50, 25),
    "days_dose1_to_dose2": (3, 1, 11),
    "follow_up_days": (16, 9, 13),
    "days_ventilation_to_dose1": {"all": (7, 12, 13), "extubated": (5, 11, 7)}
    | {"not_extubated": (10, 15, 6)},
    "outcomes": {"improved": 9, "extubated": 7, "icu_discharged": 7, "died": 2}
    | {"still_ventilated": 4, "ecmo": 2},
    "related_adverse_events": 0,
}
LAB_COUNTS = {"crp": (8, 9), "ldh": (9, 9), "d_dimer": (5, 8), "ferritin": (5, 8)}
LAB_COUNTS |= {"lymphocytes": (5, 6)}


def _rounded(summary, scale=1, places=0):
    return (
        round(summary["median"] / scale, places),
        round(summary["iqr"] / scale, places),
        summary["n"],
    )


@pytest.fixture
def demo_seeded():
    call_command("seed_demo", stdout=io.StringIO())


def test_the_whole_demo_gives_every_figure_of_the_paper_through_the_api(demo_seeded):
    auditor = User.objects.get(username="auditor")
    body = token_client(auditor).get("/api/v1/reports/cohort/").json()

    for key in ("patients_treated", "donors", "doses", "doses_per_patient", "preparation"):
        assert body[key] == PAPER[key], key
    assert _rounded(body["cells_per_kg_per_dose"], 1_000_000, 2) == PAPER["cells_per_kg_per_dose"]
    assert _rounded(body["days_dose1_to_dose2"]) == PAPER["days_dose1_to_dose2"]
    assert _rounded(body["follow_up_days"]) == PAPER["follow_up_days"]
    ventilation = body["days_ventilation_to_dose1"]
    assert {k: _rounded(v) for k, v in ventilation.items()} == PAPER["days_ventilation_to_dose1"]
    assert body["outcomes"] == PAPER["outcomes"]
    assert body["related_adverse_events"] == PAPER["related_adverse_events"]
    counts = {k: (v["as_expected"], v["evaluable"]) for k, v in body["lab_day5"].items()}
    assert {k: counts[k] for k in LAB_COUNTS} == LAB_COUNTS


def test_the_demo_thaws_at_salamanca_and_navarra_and_gives_each_patient_one_batch(demo_seeded):
    courses = records.load_courses(Patient.objects.all())
    by_hospital = Counter((c.hospital, cohort.preparation(c)) for c in courses)
    assert by_hospital == {
        ("HUS", "thawed"): 4, ("CUN", "thawed"): 2,
        ("FJD", "refreshed"): 3, ("HGM", "refreshed"): 4,
    }  # fmt: skip
    assert all(len({d.batch_code for d in c.doses}) == 1 for c in courses)
    batches = Batch.objects.filter(doses__isnull=False).distinct()
    assert batches.count() == 5
    assert len({b.donor_id for b in batches}) == 5


def test_every_step_of_the_demo_is_in_time_order(demo_seeded):
    """QP release signed before the batch's bags are shipped, shipments created, dispatched
    and received before the patient's dose 1, no custody event before the bag's previous
    one; the audit trail keeps the time each event was written (today)."""
    signed = {
        s.object_id: s.signed_at
        for s in Signature.objects.filter(object_type="batches.batch", meaning="released")
    }
    released = Batch.objects.filter(status=Batch.Status.RELEASED, cryopreserved_on__year__lt=2021)
    assert released.count() == 5
    for batch in released:
        at = signed[str(batch.pk)]
        assert batch.cryopreserved_on < at.date() < datetime.date(2020, 3, 27)
    for shipment in Shipment.objects.all():
        released = {
            signed[str(item.bag.batch_id)] for item in shipment.items.select_related("bag")
        }
        assert max(released) < shipment.created_at < shipment.dispatched_at
        assert shipment.dispatched_at < shipment.received_at
        first = (
            Dose.objects.filter(dose_bags__bag__shipment_items__shipment=shipment)
            .order_by("infusion__started_at")
            .first()
        )
        assert first is not None and shipment.received_at < first.infusion.started_at
    for dose in Dose.objects.filter(number=1).select_related("batch", "infusion"):
        assert signed[str(dose.batch_id)] < dose.ordered_at < dose.infusion.started_at
    for bag in Bag.objects.filter(batch__status__in=["released", "rejected"]):
        times = list(bag.events.order_by("pk").values_list("occurred_at", flat=True))
        assert times == sorted(times), bag.code
    rejected = Batch.objects.get(status=Batch.Status.REJECTED)
    rejection = Signature.objects.get(object_type="batches.batch", object_id=str(rejected.pk))
    assert rejected.cryopreserved_on < rejection.signed_at.date() < datetime.date(2020, 4, 30)
    written = AuditEvent.objects.filter(object_type__in=["dosing.infusion", "audit.signature"])
    assert written.exists()
    # Written by this run's seed, not back-dated: within the last day (not "today's date",
    # which is a different date in UTC and in the site's zone for an hour each night).
    now = timezone.now()
    assert all(now - datetime.timedelta(days=1) < e.occurred_at <= now for e in written)
