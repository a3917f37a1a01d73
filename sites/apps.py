from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    verbose_name = "Sites: GMP facilities, hospitals, memberships"

    def ready(self):
        from core.querysets import register_site_scope
        from sites.scope import site_scope

        register_site_scope(site_scope)
