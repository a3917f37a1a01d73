from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data loader (`manage.py seed_demo`): the top layer, above every domain app."""

    name = "demo"
    verbose_name = "CellTrack demo data"
