"""Demo cohort mirroring the case series (Sánchez-Guijo et al., EClinicalMedicine 2020).

13 ventilated COVID-19 patients across the four TerCel hospitals, pseudonymised codes
only. From the paper: median age 60 (IQR 11), 12 of 13 male, all on invasive mechanical
ventilation in ICU and eligible; after a median follow-up of 16 days, 7 extubated and
discharged from ICU (median 7 days from the first dose), 2 died (one massive GI bleed
~24 h after the cells, one secondary fungal pneumonia), 2 on ECMO but stable, 2 improving.
Labs (CRP, IL-6, ferritin, LDH, D-dimer, lymphocytes) before dose 1 and on day 5 show the
reported direction: CRP down in most, LDH down in all evaluable, D-dimer and ferritin down
in about 5 of 8, lymphocytes up. The early death and the patient on ECMO before day 5 have
no day-5 labs, as in the paper.

The split by hospital follows the paper's preparation by centre: 4 patients at Salamanca
and 2 at Navarra (thawed), 3 at Fundación Jiménez Díaz and 4 at Marañón (refreshed).
Invented, because the paper's tables are not in the text: the split by hospital, every
single value, weights (60–110 kg), the dates (March–April 2020) and the AEMPS references.
`FIRST_DOSE_ON` gives each patient's planned first-dose day so that the dosing demo can
place dose 1 on it (labs "before dose 1" are the morning of that day).

Idempotent: a patient whose code exists is left as it is.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from patients import cohort_services, services
from patients.models import ClinicalOutcome, Observation, Patient, SupportPeriod
from sites import services as site_services
from sites.models import Hospital

# The four TerCel hospitals of the case series: site code, name, patient-code prefix.
HOSPITALS = {
    "HUS": ("Hospital Universitario de Salamanca", "SAL"),
    "FJD": ("Fundación Jiménez Díaz", "FJD"),
    "HGM": ("Hospital Universitario Gregorio Marañón", "HGM"),
    "CUN": ("Clínica Universidad de Navarra", "CUN"),
}


def hospitals(*, actor) -> dict[str, Hospital]:
    """The network's hospitals by site code, made through `sites.services` when missing."""
    found = {h.code: h for h in Hospital.objects.filter(code__in=HOSPITALS)}
    for code, (name, prefix) in HOSPITALS.items():
        if code not in found:
            found[code] = site_services.create_hospital(
                actor=actor,
                reason="demo network",
                code=code,
                name=name,
                patient_code_prefix=prefix,
                notification_email=f"pharmacy@{code.lower()}.example",
            )
    return found


OUT = ClinicalOutcome.Kind
K = Observation.Kind

# code, hospital, age, sex, weight_kg, first dose day, outcome (kind, days after dose 1)
# outcome kinds: "extubated" (extubation then ICU discharge), "death", "ecmo", "improving"
COHORT = [
    ("SAL-P01", "HUS", 60, "M", "80.0", datetime.date(2020, 3, 27), ("extubated", 4)),
    ("SAL-P02", "HUS", 55, "M", "96.0", datetime.date(2020, 3, 30), ("extubated", 3)),
    ("SAL-P03", "HUS", 68, "M", "82.0", datetime.date(2020, 4, 1), ("death", 1)),
    ("SAL-P04", "HUS", 45, "F", "64.0", datetime.date(2020, 4, 3), ("extubated", 7)),
    ("HGM-P04", "HGM", 62, "M", "101.0", datetime.date(2020, 4, 6), ("ecmo", None)),
    ("FJD-P01", "FJD", 57, "M", "88.0", datetime.date(2020, 4, 2), ("extubated", 17)),
    ("FJD-P02", "FJD", 70, "M", "74.5", datetime.date(2020, 4, 8), ("improving", None)),
    ("HGM-P01", "HGM", 59, "M", "90.0", datetime.date(2020, 4, 4), ("extubated", 5)),
    ("HGM-P02", "HGM", 74, "M", "69.0", datetime.date(2020, 4, 9), ("death", 12)),
    ("HGM-P03", "HGM", 52, "M", "108.0", datetime.date(2020, 4, 12), ("ecmo", None)),
    ("CUN-P01", "CUN", 64, "M", "84.0", datetime.date(2020, 4, 5), ("extubated", 20)),
    ("CUN-P02", "CUN", 66, "M", "85.0", datetime.date(2020, 4, 10), ("extubated", 9)),
    ("FJD-P03", "FJD", 54, "M", "72.0", datetime.date(2020, 4, 14), ("improving", None)),
]

FIRST_DOSE_ON: dict[str, datetime.date] = {row[0]: row[5] for row in COHORT}

# The clinical course (invented to the paper's figures; dose 1 is at 10:00 of its day):
# code: (days of invasive ventilation before dose 1, days from dose 1 to the end of
# follow-up). Ventilation → dose 1: all 7 (IQR 12), extubated 5 (11), not extubated
# 10 (15); follow-up 16 (IQR 9), SPSS quartiles.
COURSE = {
    "SAL-P01": (4, 14),
    "SAL-P02": (1, 16),
    "SAL-P03": (9, 1),
    "SAL-P04": (7, 16),
    "HGM-P04": (11, 11),
    "FJD-P01": (13, 23),
    "FJD-P02": (3, 16),
    "HGM-P01": (2, 13),
    "HGM-P02": (16, 12),
    "HGM-P03": (23, 23),
    "CUN-P01": (20, 24),
    "CUN-P02": (5, 18),
    "FJD-P03": (2, 20),
}
# Days from hospital admission to invasive ventilation (paper: median 4, IQR 3).
ADMISSION_TO_IMV = [4, 2, 5, 3, 6, 4, 1, 4, 5, 2, 7, 4, 3]
# ECMO from this day after dose 1 (HGM-P04 before day 5: out of the day-5 labs).
ECMO_FROM = {"HGM-P04": 2, "HGM-P03": 7}
# Infections: organism, site, days after dose 1.
INFECTIONS = {
    "FJD-P01": ("Methicillin-resistant Staphylococcus aureus", "pneumonia", 3),
    "CUN-P01": ("Candida spp.", "fungal infection", -1),
    "HGM-P02": ("Saccharomyces spp.", "pneumonia", 9),
}

# Day-0 labs (before dose 1) for the patient at index i, and the day-5 factor for each
# analyte (< 1 = decrease). Values invented within the ranges such patients show.
BASELINE = {
    K.CRP: ("18.5", "9.0", "2.1"),  # mg/dl: start, spread, step per patient
    K.IL6: ("210", "140", "37"),  # pg/ml
    K.FERRITIN: ("1650", "900", "211"),  # ng/ml
    K.LDH: ("520", "160", "29"),  # U/l
    K.D_DIMER: ("2400", "1500", "613"),  # ng/ml
    K.LYMPHOCYTES: ("0.55", "0.35", "0.07"),  # x10^3/ul
}
# Who goes against the reported trend on day 5, by analyte (the paper's counts among the
# improved: CRP fell in 8 of 9, LDH in 9 of 9, D-dimer and ferritin in 5 of 8,
# lymphocytes rose in 5 of 6).
ANALYTES_NOT_IMPROVED = {
    K.CRP: {"CUN-P01"},
    K.FERRITIN: {"FJD-P02", "SAL-P02", "FJD-P03", "HGM-P03"},
    K.D_DIMER: {"HGM-P01", "SAL-P04", "CUN-P02", "HGM-P03"},
    K.LYMPHOCYTES: {"HGM-P01"},
}
# Day-5 values not measured: one responder without D-dimer, ferritin and IL-6; lymphocytes
# by flow cytometry in six of the improved only.
NOT_MEASURED_ON_DAY_5 = {
    "FJD-P01": {K.D_DIMER, K.FERRITIN, K.IL6},
    "CUN-P02": {K.LYMPHOCYTES},
    "SAL-P01": {K.LYMPHOCYTES},
    "FJD-P02": {K.LYMPHOCYTES},
}


# Values that meet every criterion, varied a little per patient (away from each limit).
def _assessment(i: int) -> dict:
    return {
        "sars_cov2_rt_pcr_confirmed": True,
        "pneumonia_on_imaging": True,
        "invasive_ventilation_in_icu": True,
        "respiratory_rate_per_min": 26 + (i * 3) % 10,
        "spo2_pct": Decimal("88.0") + Decimal(i % 5),
        "pao2_fio2_mmhg": 95 + (i * 17) % 150,
        "imaging_progression_over_50_pct": i % 3 == 0,
        "sofa_score": 5 + i % 5,
        "who_ordinal_scale": 6,
        "multi_organ_failure": False,
        "creatinine_clearance_ml_min": Decimal(60 + (i * 7) % 50),
        "alt_u_l": Decimal(28 + (i * 11) % 90),
        "ast_u_l": Decimal(35 + (i * 13) % 100),
        "active_neoplasm": False,
        "systemic_immunosuppression": False,
    }


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


def _value(analyte, i: int) -> Decimal:
    start, spread, step = (Decimal(x) for x in BASELINE[analyte])
    offset = (step * i) % spread
    return (start + offset - spread / 2).quantize(Decimal("0.01"))


def seed(*, users, stdout) -> None:
    pharmacy, clinician = users["pharmacy"], users["clinician"]
    sites = hospitals(actor=pharmacy)
    created = 0
    for i, (code, hospital, age, sex, weight, first_dose, outcome) in enumerate(COHORT):
        if Patient.objects.filter(code=code).exists():
            continue
        patient = services.register_patient(
            code=code,
            hospital=sites[hospital],
            sex=sex,
            age_years=age,
            consent_by_relatives=True,
            consent_date=first_dose - datetime.timedelta(days=1),
            compassionate_use_authorisation=f"AEMPS-UC-2020-{100 + i:03d}",
            weight_kg=Decimal(weight),
            weighed_on=first_dose - datetime.timedelta(days=1),
            assessment=_assessment(i),
            assessed_on=first_dose - datetime.timedelta(days=1),
            actor=pharmacy,
            reason="demo data: patient registered",
        )
        created += 1
        kind, days = outcome
        # Labs and WHO scale before dose 1 (morning of day 1).
        for analyte in BASELINE:
            services.record_observation(
                patient,
                kind=analyte,
                value=_value(analyte, i),
                observed_at=_at(first_dose, 7),
                note="before dose 1",
                actor=clinician,
            )
        services.record_observation(
            patient, kind=K.WHO_SCALE, value=6, observed_at=_at(first_dose, 7), actor=clinician
        )
        # Day 5 (not for the early death, nor the patient on ECMO before day 5).
        if not (kind == "death" and days == 1) and not (kind == "ecmo" and i == 4):
            day5 = first_dose + datetime.timedelta(days=5)
            for analyte in BASELINE:
                if analyte in NOT_MEASURED_ON_DAY_5.get(code, ()):
                    continue  # not performed on day 5 for this patient, as in the paper
                worse = code in ANALYTES_NOT_IMPROVED.get(analyte, set())
                up = analyte == K.LYMPHOCYTES
                factor = Decimal("1.25") if worse != up else Decimal("0.55")
                services.record_observation(
                    patient,
                    kind=analyte,
                    value=(_value(analyte, i) * factor).quantize(Decimal("0.01")),
                    observed_at=_at(day5, 7),
                    note="day 5",
                    actor=clinician,
                )
        if kind == "extubated":
            extubated = first_dose + datetime.timedelta(days=days)
            services.record_outcome(
                patient, kind=OUT.EXTUBATION, occurred_on=extubated, actor=clinician
            )
            services.record_outcome(
                patient,
                kind=OUT.ICU_DISCHARGE,
                occurred_on=extubated + datetime.timedelta(days=3),
                actor=clinician,
            )
            services.record_observation(
                patient,
                kind=K.WHO_SCALE,
                value=4,
                observed_at=_at(extubated + datetime.timedelta(days=3), 12),
                actor=clinician,
            )
        elif kind == "death":
            note = (
                "massive gastrointestinal bleeding (judged unrelated to the cells)"
                if days == 1
                else "secondary fungal pneumonia (Saccharomyces spp.)"
            )
            services.record_outcome(
                patient,
                kind=OUT.DEATH,
                occurred_on=first_dose + datetime.timedelta(days=days),
                note=note,
                actor=clinician,
            )
        _course(patient, i, first_dose, outcome, clinician)
    stdout.write(f"patients: {created} patients of the cohort registered")


def _course(patient, i, first_dose, outcome, clinician) -> None:
    """Admission, ventilation (ended at extubation), ECMO, infections, WHO-scale
    improvement of the two improving patients, and the end of follow-up."""
    code = patient.code
    kind, days = outcome
    imv_days, follow_up = COURSE[code]
    imv_start = _at(first_dose - datetime.timedelta(days=imv_days), 10)
    admitted = imv_start.date() - datetime.timedelta(days=ADMISSION_TO_IMV[i])
    cohort_services.record_stay(patient, admitted_on=admitted, actor=clinician)
    imv_end = None
    if kind == "extubated":
        imv_end = _at(first_dose + datetime.timedelta(days=days), 9)
    cohort_services.record_support_period(
        patient,
        kind=SupportPeriod.Kind.INVASIVE_VENTILATION,
        started_at=imv_start,
        ended_at=imv_end,
        actor=clinician,
    )
    if code in ECMO_FROM:
        cohort_services.record_support_period(
            patient,
            kind=SupportPeriod.Kind.ECMO,
            started_at=_at(first_dose + datetime.timedelta(days=ECMO_FROM[code]), 16),
            actor=clinician,
        )
    if code in INFECTIONS:
        organism, site, day = INFECTIONS[code]
        cohort_services.record_infection(
            patient,
            organism=organism,
            site=site,
            diagnosed_on=first_dose + datetime.timedelta(days=day),
            actor=clinician,
        )
    if kind == "improving":
        services.record_observation(
            patient,
            kind=K.WHO_SCALE,
            value=5,
            observed_at=_at(first_dose + datetime.timedelta(days=7), 12),
            actor=clinician,
        )
    cohort_services.record_stay(
        patient,
        admitted_on=admitted,
        follow_up_ended_on=first_dose + datetime.timedelta(days=follow_up),
        actor=clinician,
    )
