"""Who did it, as FHIR shows it: the role, never the person.

A hospital system needs to know that a pharmacist dispensed and a clinician infused; the
user account behind it stays in CellTrack's audit trail. The performer is a reference
by display only (nothing to resolve) with the role as its function.
"""

from __future__ import annotations

from core.roles import ROLES
from vigilance.fhir import identity as ids

_ROLE_NAMES = {
    "production": "Production",
    "qp": "Qualified Person",
    "pharmacy": "Pharmacy",
    "clinician": "Clinician",
    "auditor": "Auditor",
}


def role_of(user) -> str | None:
    """The user's CellTrack role (its group), read from prefetched `groups`."""
    names = {group.name for group in user.groups.all()}
    return next((role for role in ROLES if role in names), None)


def performer(user) -> dict:
    role = role_of(user)
    label = _ROLE_NAMES.get(role, "CellTrack user")
    entry = {"actor": {"display": f"{label} (CellTrack)"}}
    if role:
        entry["function"] = {
            "coding": [ids.coding(ids.ROLE_SYSTEM, role, label)],
            "text": label,
        }
    return entry
