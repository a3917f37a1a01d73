from django.apps import AppConfig


class VigilanceConfig(AppConfig):
    name = "vigilance"
    verbose_name = "Vigilance: recalls, reaction reports, expiry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from vigilance.services.worklist import register_notice_sections

        # The worklists show what vigilance puts in their notice sections (core.notices).
        register_notice_sections()
