"""Who may do what with site records (see docs/permissions.md).

Memberships are assigned by an administrator (a superuser) in the admin; no role grants
them. Each role sees the sites it is a member of (`Hospital.objects.for_user`)."""

ROLE_PERMISSIONS = {
    "production": {"sites.view_facility", "sites.add_facility", "sites.change_facility"},
    "qp": {"sites.view_facility"},
    "pharmacy": {"sites.view_facility", "sites.view_hospital"},
    "clinician": {"sites.view_hospital"},
    "auditor": {"sites.view_facility", "sites.view_hospital"},
}
