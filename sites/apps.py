from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    verbose_name = "Sites: GMP facilities, hospitals, memberships"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from core.access import access_changed, register_user_fact
        from core.querysets import register_site_scope
        from sites.models import Facility, Hospital, Membership
        from sites.scope import load_site_scope, site_scope

        register_site_scope(site_scope)
        # Memberships (and the sites' zones) are cached with each user's permissions:
        # any change to them outdates every cached entry.
        register_user_fact("site_scope", load_site_scope)
        for model in (Membership, Facility, Hospital):
            for signal in (post_save, post_delete):
                signal.connect(
                    access_changed, sender=model, dispatch_uid=f"access.{signal}.{model}"
                )
