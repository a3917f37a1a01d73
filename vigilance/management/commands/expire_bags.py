"""`python manage.py expire_bags`: mark available bags past their batch's expiry as
expired, each with a custody event. Idempotent; run daily from cron (docs/operations.md):

    5 0 * * *  cd /srv/celltrack && .venv/bin/python manage.py expire_bags
"""

from django.core.management.base import BaseCommand

from audit.context import Origin, audit_origin
from vigilance.services import expire_bags


class Command(BaseCommand):
    help = "Mark available bags past their batch's expiry date as expired (custody event each)."

    def handle(self, *args, **options):
        with audit_origin(Origin.COMMAND):
            bags = expire_bags(actor=None)
        for bag in bags:
            self.stdout.write(f"expired {bag.code}")
        self.stdout.write(f"{len(bags)} bag(s) marked expired.")
