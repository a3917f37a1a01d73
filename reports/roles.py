"""Who may read the cohort report's published figures: the roles that read the report."""

ROLE_PERMISSIONS = {
    "pharmacy": {"reports.view_publishedfigure"},
    "clinician": {"reports.view_publishedfigure"},
    "auditor": {"reports.view_publishedfigure"},
}
