"""Who may do what with patient records (see docs/permissions.md).

pharmacy registers patients, records weights and assessments and corrects them;
clinicians read patients and record follow-up (observations and outcomes); auditors
read everything; clinicians enter the clinical course (admission, ventilation, ECMO,
X-ray scores, lymphocyte subsets, infections, end of follow-up);
production and QP see no patient data.
"""

_MODELS = ["patient", "weightmeasurement", "clinicalassessment", "observation", "clinicaloutcome"]


def _perms(actions, models=_MODELS):
    return {f"patients.{action}_{model}" for action in actions for model in models}


# The clinical course (patients.models.cohort): entered by clinicians, read by all three.
_COURSE = ["hospitalstay", "supportperiod", "chestxray", "lymphocytesubsets", "infection"]

ROLE_PERMISSIONS = {
    "pharmacy": _perms(["view", "add", "change"]) | _perms(["view"], _COURSE),
    "clinician": _perms(["view"])
    | {"patients.add_observation", "patients.add_clinicaloutcome"}
    | _perms(["view", "add", "change"], _COURSE),
    "auditor": _perms(["view"]) | _perms(["view"], _COURSE),
}
