"""The five roles as Django groups, with the permissions the design gives them.

Each app lists its own grants in `<app>/roles.py` as ROLE_PERMISSIONS, a mapping from
group name to permission names ("app_label.codename"). After every `migrate` the groups
are brought to exactly that set, so permissions in the database never drift from the code.
"""

from importlib import import_module

ROLES = ["production", "qp", "pharmacy", "clinician", "auditor"]
APPS_WITH_ROLES = ["audit", "batches", "patients", "dosing"]


def role_permissions() -> dict[str, set[str]]:
    grants: dict[str, set[str]] = {role: set() for role in ROLES}
    for app in APPS_WITH_ROLES:
        try:
            module = import_module(f"{app}.roles")
        except ModuleNotFoundError:
            continue
        for role, perms in module.ROLE_PERMISSIONS.items():
            grants[role].update(perms)
    return grants


def sync_role_groups(sender=None, **kwargs):
    """Create the role groups and set their permissions to what the code declares."""
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    # Permissions of an app are created on its own post_migrate; wait for the last app.
    if sender is not None and sender is not list(apps.get_app_configs())[-1]:
        return

    from audit.context import Origin, audit_context

    with audit_context(
        actor=None, reason="role permissions synchronised by migrate", origin=Origin.MIGRATION
    ):
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
