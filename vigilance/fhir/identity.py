"""Resource ids, identifier systems and code systems: how CellTrack's codes appear in FHIR.

Ids are stable and tell no more than the codes already do: a patient's id is the
pseudonymised code, a bag's its full bag code, a dispense the dose's key and the bag's
product code and division, an infusion and an adverse event their record's key. A FHIR
id allows only letters, digits, '-' and '.', so the '*' an ISO 7064 check character can be
is written '.' in a bag's id ('.' never occurs in a bag code, so the mapping reverses).
"""

from __future__ import annotations

import re

# FHIR's id type: 1–64 of [A-Za-z0-9-.].
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# A record key as it may appear in an id or a value: ASCII digits that fit a bigint.
_KEY_RE = re.compile(r"[0-9]{1,18}")

# Identifier systems (who issued the value) and CellTrack's own code systems.
PATIENT_SYSTEM = "urn:celltrack:patient"
BAG_SYSTEM = "urn:celltrack:bag"
DIN_SYSTEM = "urn:celltrack:din"  # ISBT 128-style DIN with its check character
DONOR_SYSTEM = "urn:celltrack:donor"
FACILITY_SYSTEM = "urn:celltrack:facility"  # ISBT 128-style facility identification number
HOSPITAL_SYSTEM = "urn:celltrack:hospital"
DOSE_SYSTEM = "urn:celltrack:dose"
ADVERSE_EVENT_SYSTEM = "urn:celltrack:adverse-event"
PRODUCT_CODE_SYSTEM = "urn:celltrack:product-code"  # ISBT 128-style product code
BAG_STATUS_SYSTEM = "urn:celltrack:bag-status"
PROPERTY_SYSTEM = "urn:celltrack:product-property"
ROLE_SYSTEM = "urn:celltrack:role"
PROCEDURE_SYSTEM = "urn:celltrack:procedure"
PREPARATION_SYSTEM = "urn:celltrack:preparation-method"
CAUSALITY_SYSTEM = "urn:celltrack:causality-who-umc"
AE_OUTCOME_SYSTEM = "urn:celltrack:adverse-event-outcome"
CTCAE_GRADE_EXTENSION = "urn:celltrack:fhir:extension:ctcae-grade"

# HL7's code systems used as they are.
PRODUCT_CATEGORY_SYSTEM = "http://hl7.org/fhir/product-category"
PRODUCT_STATUS_SYSTEM = "http://hl7.org/fhir/biologicallyderived-product-status"
SERIOUSNESS_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
UCUM = "http://unitsofmeasure.org"


def bag_id(bag_code: str) -> str:
    return bag_code.replace("*", ".")


def bag_code_of(resource_id: str) -> str:
    return resource_id.replace(".", "*")


def dispense_id(dose_pk: int, product_code: str, division: str) -> str:
    """One dispense per bag of a dose: the dose's key, then the bag's product code and
    division (which tell apart the bags of one batch, and so of one dose)."""
    return f"{dose_pk}-{product_code}-{division}"


def dispense_parts(resource_id: str) -> tuple[int, str, str] | None:
    parts = resource_id.split("-")
    if len(parts) != 3 or pk_of(parts[0]) is None:
        return None
    return int(parts[0]), parts[1], parts[2]


def pk_of(resource_id: str) -> int | None:
    """The record key in an id or a code (an infusion's, an adverse event's), or None."""
    return int(resource_id) if _KEY_RE.fullmatch(resource_id) else None


def reference(resource_type: str, resource_id: str, display: str | None = None) -> dict:
    """A relative literal reference (resolved against the server's base, /api/fhir/)."""
    ref = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        ref["display"] = display
    return ref


def coding(system: str, code: str, display: str | None = None) -> dict:
    item = {"system": system, "code": code}
    if display:
        item["display"] = display
    return item
