"""Who may do what with dosing records (see docs/permissions.md).

pharmacy orders, allocates, prepares and dispenses; clinicians record infusions and adverse
events; auditors read everything; production and QP have no business with doses.
"""

_MODELS = [
    "protocol",
    "dose",
    "dosebag",
    "preparation",
    "infusion",
    "bedsidescan",
    "adverseevent",
]


def _view(models=_MODELS):
    return {f"dosing.view_{model}" for model in models}


ROLE_PERMISSIONS = {
    "pharmacy": _view() | {"dosing.allocate_dose", "dosing.dispense_dose"},
    "clinician": _view() | {"dosing.record_infusion"},
    "auditor": _view(),
    "production": set(),
    "qp": set(),
}
