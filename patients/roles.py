"""Who may do what with patient records (see docs/permissions.md).

pharmacy registers patients, records weights and assessments and corrects them;
clinicians read patients and record follow-up (observations and outcomes); auditors
read everything; production and QP see no patient data.
"""

_MODELS = ["patient", "weightmeasurement", "clinicalassessment", "observation", "clinicaloutcome"]


def _perms(actions, models=_MODELS):
    return {f"patients.{action}_{model}" for action in actions for model in models}


ROLE_PERMISSIONS = {
    "pharmacy": _perms(["view", "add", "change"]),
    "clinician": _perms(["view"]) | {"patients.add_observation", "patients.add_clinicaloutcome"},
    "auditor": _perms(["view"]),
}
