"""After every `migrate`: the role groups set to what the code declares, on the trail.

The groups and their permissions are Django's (`core.roles`); the changes reach the trail
through `audit.auth_trail`, attributed to the migration with a reason.
"""

from django.apps import apps

from audit.context import Origin, audit_context
from core.roles import apply_role_permissions


def _last_app_migrated():
    """The app whose post_migrate comes last (Django sends it only to apps with models)."""
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    return with_models[-1]


def sync_role_groups(sender=None, **kwargs):
    """post_migrate receiver: bring the role groups to exactly the declared permissions."""
    # Permissions of an app are created on its own post_migrate; wait for the last app.
    if sender is not None and sender is not _last_app_migrated():
        return
    with audit_context(
        actor=None, reason="role permissions synchronised by migrate", origin=Origin.MIGRATION
    ):
        apply_role_permissions()
