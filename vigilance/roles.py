"""Who may do what with vigilance records (see docs/permissions.md).

The QP recalls (the batch permission `batches.release_batch`, through the admin's
decision table); pharmacy, QP, clinicians and auditors read recalls and their lookback;
the pharmacy reads and acknowledges its notices; clinicians submit and sign reaction
notifications; auditors read everything.
"""

_RECALL = {"vigilance.view_recall", "vigilance.view_recallnotice"}
_REPORTS = {"vigilance.view_reactionreport"}

ROLE_PERMISSIONS = {
    "qp": _RECALL,
    "pharmacy": _RECALL | _REPORTS | {"vigilance.change_recallnotice"},
    "clinician": _RECALL | _REPORTS | {"vigilance.report_reaction"},
    "auditor": _RECALL | _REPORTS,
    "production": set(),
}
