"""Who may do what with site records (see docs/permissions.md)."""

ROLE_PERMISSIONS = {
    "production": {"sites.view_facility", "sites.add_facility", "sites.change_facility"},
    "qp": {"sites.view_facility"},
    "pharmacy": {"sites.view_facility"},
    "auditor": {"sites.view_facility"},
}
