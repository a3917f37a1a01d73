ROLE_PERMISSIONS = {
    "production": {"audit.view_signature"},
    "qp": {"audit.view_signature"},
    "pharmacy": set(),
    "clinician": set(),
    "auditor": {"audit.view_auditevent", "audit.view_signature"},
}
