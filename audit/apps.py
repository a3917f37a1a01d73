from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from audit import auth_trail, checks  # noqa: F401  (registers the system check)
        from audit.role_groups import sync_role_groups

        auth_trail.connect()
        post_migrate.connect(sync_role_groups, dispatch_uid="audit.sync_role_groups")
