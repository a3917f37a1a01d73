from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from audit import auth_trail, checks  # noqa: F401  (registers the system check)

        auth_trail.connect()
