"""A synthetic cohort of any size for the report's query-count tests and its timings:
patients with one to three infused doses from a few batches, a stay, a period of
ventilation (some with ECMO), WHO-scale and day-5 lab values, outcomes and an adverse
event for some — bulk-created through the audited managers (`bulk_create` writes the
trail), so every row is on the trail like any other record.

`build_cohort(n, actor=…)` returns the hospital; `python -m tests.reports.synthetic N`
(with DATABASE_URL pointing at a throwaway database) builds one for `docs/cohort-report.md`.
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.utils import timezone

from audit.context import Origin, audit_context

LABS = {
    "crp": ("mg/L", 150),
    "ldh": ("U/L", 500),
    "d_dimer": ("ng/mL", 2000),
    "ferritin": ("ng/mL", 1200),
    "il6": ("pg/mL", 60),
    "lymphocytes": ("10^9/L", 0.6),
}
DAY0 = datetime.date(2020, 4, 1)


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def build_cohort(
    n: int, *, actor, hospital=None, prefix: str = "SYN", seed: int = 0, batches=None
):
    """`n` patients at `hospital` (a new one by default) given cells of `batches` (six
    new ones of three donors by default)."""
    from dosing.models import AdverseEvent, Dose, Infusion, Preparation, Protocol
    from patients.models import (
        ClinicalOutcome,
        HospitalStay,
        Observation,
        Patient,
        SupportPeriod,
    )
    from tests.factories import BatchFactory, DonorFactory
    from tests.factories.sites import HospitalFactory

    rng = random.Random(seed)
    hospital = hospital or HospitalFactory()
    if not batches:
        donors = [DonorFactory() for _ in range(3)]
        batches = [BatchFactory(donor=donors[i % len(donors)]) for i in range(6)]
    with audit_context(actor=None, reason="synthetic cohort", origin=Origin.TEST):
        protocol, _ = Protocol.objects.get_or_create(code="AT-MSC-COVID", version=1)
        patients = Patient.objects.bulk_create(
            Patient(
                code=f"{prefix}-{i:05d}",
                hospital=hospital,
                age_years=40 + i % 40,
                sex="M" if i % 3 else "F",
                consent_by_relatives=True,
                consent_date=DAY0 - datetime.timedelta(days=2),
                compassionate_use_authorisation="AEMPS-UC-2020-001",
            )
            for i in range(n)
        )
        plans = []  # (patient, day of dose 1, number of doses, method, batch)
        for i, patient in enumerate(patients):
            day0 = DAY0 + datetime.timedelta(days=i % 300)
            method = "thawed" if i % 2 else "refreshed"
            plans.append(
                (patient, day0, rng.choice((1, 2, 2, 2, 3)), method, batches[i % len(batches)])
            )
        doses = Dose.objects.bulk_create(
            Dose(
                patient=patient,
                protocol=protocol,
                number=k + 1,
                batch=batch,
                status=Dose.Status.INFUSED,
                planned_for=_at(day0 + datetime.timedelta(days=3 * k), 10),
                weight_kg=Decimal("80.0"),
                weight_measured_on=day0,
                required_cells=80_000_000,
                planned_cells=80_000_000,
                delivered_cells=rng.randrange(56_000_000, 104_000_000, 1_000_000),
                ordered_by=actor,
                ordered_at=_at(day0 + datetime.timedelta(days=3 * k), 4),
            )
            for patient, day0, count, _, batch in plans
            for k in range(count)
        )
        methods = {p.pk: method for p, _, _, method, _ in plans}
        Preparation.objects.bulk_create(
            Preparation(
                dose=dose,
                method=methods[dose.patient_id],
                thawed_at=dose.planned_for - datetime.timedelta(hours=74),
                medium="AB serum",
                prepared_by=actor,
                recorded_at=dose.planned_for,
                **(
                    {
                        "seeded_at": dose.planned_for - datetime.timedelta(hours=72),
                        "harvested_at": dose.planned_for - datetime.timedelta(hours=2),
                        "viable_cells": dose.delivered_cells,
                    }
                    if methods[dose.patient_id] == "refreshed"
                    else {}
                ),
            )
            for dose in doses
        )
        Infusion.objects.bulk_create(
            Infusion(
                dose=dose,
                started_at=dose.planned_for,
                ended_at=dose.planned_for + datetime.timedelta(minutes=30),
                filter_200um_confirmed=True,
                infused_by=actor,
                heart_rate_before=80,
                systolic_bp_before=120,
                diastolic_bp_before=70,
                spo2_pct_before=93,
                temperature_c_before=Decimal("36.8"),
                heart_rate_after=82,
                systolic_bp_after=118,
                diastolic_bp_after=72,
                spo2_pct_after=94,
                temperature_c_after=Decimal("36.9"),
                recorded_at=dose.planned_for,
            )
            for dose in doses
        )
        HospitalStay.objects.bulk_create(
            HospitalStay(
                patient=patient,
                admitted_on=day0 - datetime.timedelta(days=12),
                follow_up_ended_on=day0 + datetime.timedelta(days=rng.randint(5, 30)),
            )
            for patient, day0, *_ in plans
        )
        supports, observations, outcomes, events = [], [], [], []
        for i, (patient, day0, _, _, _) in enumerate(plans):
            supports.append(
                SupportPeriod(
                    patient=patient,
                    kind="imv",
                    started_at=_at(day0 - datetime.timedelta(days=rng.randint(1, 15)), 9),
                )
            )
            if i % 10 == 0:
                supports.append(
                    SupportPeriod(patient=patient, kind="ecmo", started_at=_at(day0, 14))
                )
            for day, score in ((0, 6), (3, rng.choice((5, 6))), (7, rng.choice((4, 5, 6)))):
                observations.append(
                    Observation(
                        patient=patient,
                        kind="who_scale",
                        value=Decimal(score),
                        unit=Observation.UNITS["who_scale"],
                        observed_at=_at(day0 + datetime.timedelta(days=day), 8),
                    )
                )
            for kind, (_unit, level) in LABS.items():
                for day, factor in ((0, 1), (5, rng.choice((0.6, 0.9, 1.2)))):
                    observations.append(
                        Observation(
                            patient=patient,
                            kind=kind,
                            unit=Observation.UNITS[kind],
                            value=Decimal(str(round(level * factor, 2))),
                            observed_at=_at(day0 + datetime.timedelta(days=day), 7),
                        )
                    )
            if i % 2:
                outcomes.append(
                    ClinicalOutcome(
                        patient=patient,
                        kind="extubation",
                        occurred_on=day0 + datetime.timedelta(days=4),
                    )
                )
            elif i % 7 == 0:
                outcomes.append(
                    ClinicalOutcome(
                        patient=patient,
                        kind="death",
                        occurred_on=day0 + datetime.timedelta(days=3),
                    )
                )
        for dose in doses[::5]:
            events.append(
                AdverseEvent(
                    patient_id=dose.patient_id,
                    dose=dose,
                    onset_at=dose.planned_for,
                    description="event",
                    ctcae_grade=2,
                    serious=False,
                    outcome="recovered",
                    causality="unlikely",
                    reported_by=actor,
                    reported_at=dose.planned_for,
                )
            )
        SupportPeriod.objects.bulk_create(supports)
        Observation.objects.bulk_create(observations, batch_size=5000)
        ClinicalOutcome.objects.bulk_create(outcomes)
        AdverseEvent.objects.bulk_create(events)
    return hospital


URLS = [
    "/api/v1/reports/cohort/",
    "/api/v1/reports/cohort/patients/",
    "/api/v1/reports/cohort/patients/?format=csv",
    "/reports/cohort/",
    "/reports/cohort/chart/swimlanes.png",
    "/reports/cohort/chart/labs.png",
    "/reports/cohort/chart/cells.png",
]


def main(argv: list[str]) -> None:
    """Build a cohort of argv[0] patients (unless 0) in DATABASE_URL's database (a
    throwaway one: it writes), then time each URL of the report (median of 3)."""
    import os
    import statistics
    import time

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = get_user_model().objects
    with audit_context(actor=None, reason="synthetic cohort", origin=Origin.TEST):
        user = users.filter(username="bench").first() or users.create_superuser(
            "bench", "bench@example.org", None
        )
    if int(argv[0]):
        build_cohort(int(argv[0]), actor=user)
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    for url in URLS:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert client.get(url, secure=True).status_code == 200, url
            times.append(time.perf_counter() - start)
        print(f"{url:48s} {statistics.median(times) * 1000:8.0f} ms")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
