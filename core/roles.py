"""The five roles as Django groups, with the permissions the design gives them.

Each app lists its own grants in `<app>/roles.py` as ROLE_PERMISSIONS, a mapping from
group name to permission names ("app_label.codename"). After every `migrate` the groups
are brought to exactly that set (`audit.role_groups`, which puts the change on the audit
trail), so permissions in the database never drift from the code.
"""

from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule

ROLES = ["production", "qp", "pharmacy", "clinician", "auditor"]


def role_permissions() -> dict[str, set[str]]:
    """Every role's permissions: the union of the ROLE_PERMISSIONS of the installed apps."""
    grants: dict[str, set[str]] = {role: set() for role in ROLES}
    for app_config in apps.get_app_configs():
        if not module_has_submodule(app_config.module, "roles"):
            continue
        module = import_module(f"{app_config.name}.roles")
        for role, perms in getattr(module, "ROLE_PERMISSIONS", {}).items():
            grants[role].update(perms)
    return grants


def apply_role_permissions() -> None:
    """Create the role groups and set their permissions to what the code declares.

    Raises LookupError when a declared permission does not exist."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in sorted(perms):
            app_label, codename = perm.split(".", 1)
            found = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if found is None:
                raise LookupError(f"role {role}: permission {perm} does not exist")
            wanted.append(found)
        group.permissions.set(wanted)
