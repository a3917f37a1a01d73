from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


def create_cache_table(sender, using="default", **kwargs):
    """`migrate` also creates the database cache's table (throttles and the trail's rate
    limits live there unless REDIS_URL is set), so no deployment forgets it."""
    from django.conf import settings
    from django.core.management import call_command

    if any(cache["BACKEND"].endswith("DatabaseCache") for cache in settings.CACHES.values()):
        call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "CellTrack core"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from core.access import register_invalidation
        from core.db_loaders import use_c_timestamp_loader
        from core.sessions import start_session

        register_invalidation()
        user_logged_in.connect(start_session, dispatch_uid="celltrack.start_session")
        post_migrate.connect(
            create_cache_table, sender=self, dispatch_uid="celltrack.create_cache_table"
        )
        connection_created.connect(
            use_c_timestamp_loader, dispatch_uid="celltrack.use_c_timestamp_loader"
        )
