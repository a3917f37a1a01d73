"""The bedside check: the patient's wristband and every bag's full code are scanned before
an infusion is recorded; a wrong patient or a wrong bag is refused on the spot, and every
scan — match or refusal — is on the audit trail."""

import datetime
import re

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from dosing import services
from dosing.exceptions import InfusionError
from dosing.models import BedsideScan, Dose
from tests.dosing.flow import (
    MINUTES,
    VITALS,
    allocated,
    dispensed_thawed,
    infused_thawed,
    scan_at_bedside,
)
from tests.factories import PatientFactory, released_batch_with_bags

pytestmark = pytest.mark.django_db


def _scan(dose, clinician, code, at=None):
    return services.record_bedside_scan(dose, actor=clinician, code=code, at=at)


def _events(scan):
    return AuditEvent.objects.for_object(scan)


def test_wrong_wristband_refused_and_on_the_trail(protocol, patient, stock, pharmacist, clinician):
    dose = dispensed_thawed(patient, pharmacist)
    other = PatientFactory(code="SAL-P99")

    scan = _scan(dose, clinician, other.code)

    assert not scan.matched
    assert "Wrong patient" in scan.refusal and other.code in scan.refusal
    event = _events(scan).get()
    assert event.action == "bedside_refused"
    assert "refused" in event.reason


def test_bag_of_another_dose_of_the_same_batch_refused(protocol, pharmacist, clinician):
    # One batch, two patients: their bags share the DIN; only the full code tells them apart.
    released_batch_with_bags([75_000_000] * 4)
    first = dispensed_thawed(PatientFactory(weight_kg=75), pharmacist)
    second = allocated(PatientFactory(weight_kg=75), pharmacist)
    other_bag = second.dose_bags.get().bag
    assert other_bag.batch_id == first.batch_id

    _scan(first, clinician, first.patient.code)
    scan = _scan(first, clinician, other_bag.code)

    assert not scan.matched
    assert f"Bag {other_bag.code} is not part of dose {first.code}" in scan.refusal
    assert _events(scan).get().action == "bedside_refused"


def test_bag_scanned_before_the_wristband_is_taken_as_a_wrong_wristband(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    bag = dose.dose_bags.get().bag
    scan = _scan(dose, clinician, bag.code)
    assert scan.kind == BedsideScan.Kind.WRISTBAND and not scan.matched


def test_dose_past_its_use_before_refused_at_the_bedside(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    late = dose.use_before + datetime.timedelta(minutes=5)
    _scan(dose, clinician, patient.code, at=late)
    scan = _scan(dose, clinician, dose.dose_bags.get().bag.code, at=late)
    assert not scan.matched and "use-before" in scan.refusal


def test_scan_of_a_dose_already_infused_refused(protocol, patient, stock, pharmacist, clinician):
    dose = infused_thawed(patient, pharmacist, clinician)
    scan = _scan(dose, clinician, patient.code)
    assert not scan.matched and "infused, not dispensed" in scan.refusal


def test_scanner_input_is_compared_without_spaces_or_case(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    assert _scan(dose, clinician, f"  {patient.code.lower()} \n").matched


def test_infusion_refused_until_the_wristband_and_every_bag_matched(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    now = timezone.now()
    kwargs = {
        "actor": clinician,
        "started_at": now - 10 * MINUTES,
        "ended_at": now - 5 * MINUTES,
        "filter_confirmed": True,
        "premedication_given": "methylprednisolone",
        "vitals": VITALS,
        "at": now,
    }
    with pytest.raises(InfusionError, match="scan the patient's wristband"):
        services.record_infusion(dose, **kwargs)
    _scan(dose, clinician, patient.code)
    bag = dose.dose_bags.get().bag
    with pytest.raises(InfusionError, match=f"scan bag {re.escape(bag.code)}"):
        services.record_infusion(dose, **kwargs)
    assert Dose.objects.get(pk=dose.pk).status == Dose.Status.DISPENSED

    _scan(dose, clinician, bag.code)
    infusion = services.record_infusion(dose, **kwargs)
    assert infusion.scanned_bag_codes == bag.code


def test_a_wrong_wristband_after_the_right_one_starts_the_check_again_only_on_a_match(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    scan_at_bedside(dose, clinician)
    _scan(dose, clinician, "SAL-P99")  # a bag field typo: refused, the check stands
    from dosing.rules import bedside_check

    assert bedside_check(dose).complete


def test_the_infusion_page_sends_the_ward_to_the_bedside_check_first(
    client, protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    client.force_login(clinician)
    page = client.get(f"/clinic/dose/{dose.pk}/infusion/")
    assert page.status_code == 302 and page.url == f"/clinic/dose/{dose.pk}/scan/"

    page = client.post(f"/clinic/dose/{dose.pk}/scan/", {"code": "SAL-P99"}, follow=True)
    assert "Wrong patient" in page.content.decode()
    client.post(f"/clinic/dose/{dose.pk}/scan/", {"code": patient.code})
    client.post(f"/clinic/dose/{dose.pk}/scan/", {"code": dose.dose_bags.get().bag.code})
    page = client.get(f"/clinic/dose/{dose.pk}/scan/")
    assert "Record the infusion" in page.content.decode()
    assert client.get(f"/clinic/dose/{dose.pk}/infusion/").status_code == 200


# --- the bag label's DataMatrix, and the one bag-usability rule ----------------------------


def _datamatrix(bag):
    """What a hand-held scanner types for the bag label's DataMatrix (ISBT 128 message)."""
    from labels.isbt import bag_message, identity_of

    return bag_message(identity_of(bag))


def test_bag_datamatrix_message_is_accepted_as_the_bag_code(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    bag = dose.dose_bags.get().bag
    message = _datamatrix(bag)
    assert message.startswith("=+") and "&>" in message

    _scan(dose, clinician, patient.code)
    scan = _scan(dose, clinician, message)

    assert scan.matched, scan.refusal
    assert scan.scanned_code == bag.code and scan.bag == bag
    from dosing.rules import bedside_check

    assert bedside_check(dose).complete


def test_datamatrix_of_another_bag_of_the_batch_is_refused(protocol, pharmacist, clinician):
    released_batch_with_bags([75_000_000] * 4)
    first = dispensed_thawed(PatientFactory(weight_kg=75), pharmacist)
    other_bag = allocated(PatientFactory(weight_kg=75), pharmacist).dose_bags.get().bag
    _scan(first, clinician, first.patient.code)
    scan = _scan(first, clinician, _datamatrix(other_bag))
    assert not scan.matched
    assert f"Bag {other_bag.code} is not part of dose {first.code}" in scan.refusal


def test_unreadable_label_message_is_refused_and_kept(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    _scan(dose, clinician, patient.code)
    scan = _scan(dose, clinician, "=+03000=E0001")
    assert not scan.matched and "could not be read" in scan.refusal
    assert _events(scan).get().action == "bedside_refused"


def test_bag_label_scanned_before_the_wristband_asks_for_the_wristband(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    scan = _scan(dose, clinician, _datamatrix(dose.dose_bags.get().bag))
    assert scan.kind == BedsideScan.Kind.WRISTBAND and not scan.matched
    assert "scan the patient's wristband first" in scan.refusal


def test_bag_no_longer_usable_is_refused_with_the_rules_reason(
    protocol, patient, stock, pharmacist, clinician, monkeypatch
):
    """The scan asks the one bag-usability rule (`batches.rules.bag_unusable_reason`):
    whatever makes a bag unusable there (a recall, a quarantine) refuses it here."""
    dose = dispensed_thawed(patient, pharmacist)
    bag = dose.dose_bags.get().bag
    asked = []

    def unusable(b, *, on):
        asked.append((b.code, on))
        return f"bag {b.code} is recalled"

    monkeypatch.setattr("dosing.rules.scan.bag_unusable_reason", unusable)
    _scan(dose, clinician, patient.code)
    scan = _scan(dose, clinician, bag.code)
    assert not scan.matched
    assert scan.refusal == f"Bag {bag.code}: bag {bag.code} is recalled"
    assert asked == [(bag.code, timezone.localdate(scan.scanned_at))]
