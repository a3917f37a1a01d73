"""Steps of a dose through the services, with times set, for tests that need a history."""

import datetime

from django.utils import timezone

from audit.models import AuditEvent
from dosing import services

MINUTES = datetime.timedelta(minutes=1)

VITALS = {
    "heart_rate_before": 88,
    "systolic_bp_before": 120,
    "diastolic_bp_before": 70,
    "spo2_pct_before": 94,
    "temperature_c_before": "37.1",
    "heart_rate_after": 90,
    "systolic_bp_after": 118,
    "diastolic_bp_after": 68,
    "spo2_pct_after": 95,
    "temperature_c_after": "37.2",
}


def hours(n):
    return datetime.timedelta(hours=n)


def last_event(obj):
    """The latest audit event of `obj`: what the last step recorded about it."""
    return AuditEvent.objects.for_object(obj).order_by("seq").last()


def allocated(patient, pharmacist, *, at=None, **allocate):
    at = at or timezone.now()
    dose = services.order_dose(patient, actor=pharmacist, at=at)
    return services.allocate_dose(dose, actor=pharmacist, at=at, **allocate)


def dispensed_thawed(patient, pharmacist, *, at=None):
    at = at or timezone.now() - hours(1)
    dose = allocated(patient, pharmacist, at=at)
    services.record_thaw(dose, actor=pharmacist, at=at + datetime.timedelta(minutes=5))
    return services.dispense_dose(dose, actor=pharmacist, at=at + datetime.timedelta(minutes=10))


def scan_at_bedside(dose, clinician, *, at=None):
    """The bedside check: the patient's wristband, then every bag of the dose."""
    services.record_bedside_scan(dose, actor=clinician, code=dose.patient.code, at=at)
    for link in dose.dose_bags.filter(live=True).select_related("bag"):
        services.record_bedside_scan(dose, actor=clinician, code=link.bag.code, at=at)


def infused_thawed(patient, pharmacist, clinician, *, at=None):
    at = at or timezone.now() - hours(1)
    dose = dispensed_thawed(patient, pharmacist, at=at)
    scan_at_bedside(dose, clinician, at=at + datetime.timedelta(minutes=15))
    services.record_infusion(
        dose,
        actor=clinician,
        started_at=at + datetime.timedelta(minutes=20),
        ended_at=at + datetime.timedelta(minutes=40),
        filter_confirmed=True,
        premedication_given="methylprednisolone 40 mg + dexchlorpheniramine 5 mg IV",
        vitals=VITALS,
        at=at + datetime.timedelta(minutes=45),
    )
    dose.refresh_from_db()
    return dose


def infuse(dose, clinician, started_at, *, at=None):
    """Record a 20-minute infusion of a dispensed dose started at `started_at`, after the
    bedside check."""
    scan_at_bedside(dose, clinician, at=started_at)
    return services.record_infusion(
        dose,
        actor=clinician,
        started_at=started_at,
        ended_at=started_at + 20 * MINUTES,
        filter_confirmed=True,
        premedication_given="methylprednisolone",
        vitals=VITALS,
        at=at or started_at + 25 * MINUTES,
    )
