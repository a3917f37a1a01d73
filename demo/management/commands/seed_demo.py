"""Load the demo data: one user per role and the paper's donors, batches and cohort.

Idempotent: running it twice leaves the same data (each app's `demo.seed()` checks for
its own records first). Demo passwords are for a local trial only and are printed.

The roles that log in with two factors (production, qp, clinician) get an authenticator
with a fixed, printed secret (`demo.totp.DEMO_TOTP_SECRETS`): add it to an authenticator
app, or print the current code with `python manage.py demo_code <username>`.
"""

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.authenticators import register_device
from audit.context import Origin, audit_context, audit_origin
from batches import demo as batches_demo
from demo.totp import DEMO_TOTP_SECRETS, key_hex
from dosing import demo as dosing_demo
from patients import demo as patients_demo

DEMO_PASSWORD = "celltrack-demo"
DEMO_USERS = [
    # username, group, is_staff, first name, last name
    ("production", "production", True, "Paula", "Production"),
    ("qp", "qp", True, "Quentin", "Qualified"),
    ("pharmacy", "pharmacy", False, "Fran", "Pharmacy"),
    ("clinician", "clinician", False, "Carmen", "Clinician"),
    ("auditor", "auditor", False, "Alba", "Auditor"),
]
# Dosing's demo gives the batches' bags to the cohort's patients, so it comes last.
DEMO_MODULES = [batches_demo, patients_demo, dosing_demo]
DEMO_START_PAGES = {
    "production": "/admin/",
    "qp": "/admin/",
    "pharmacy": "/pharmacy/",
    "clinician": "/clinic/",
    "auditor": "/api/docs/",
}


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        with audit_origin(Origin.COMMAND), transaction.atomic():
            users = self._users()
            self._authenticators(users)
            with audit_context(actor=users["production"], reason="demo data"):
                for module in DEMO_MODULES:
                    module.seed(users=users, stdout=self.stdout)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, group, *_ in DEMO_USERS:
            where = DEMO_START_PAGES[group]
            line = f"  {username:<11} role {group:<11} → http://127.0.0.1:8000{where}"
            if username in DEMO_TOTP_SECRETS:
                line += f"  TOTP secret {DEMO_TOTP_SECRETS[username]}"
            self.stdout.write(line)
        self.stdout.write(
            "The TOTP secrets are demo-only: add one to an authenticator app, or print the "
            "current code with `DEBUG=1 .venv/bin/python manage.py demo_code <username>`."
        )

    def _authenticators(self, users: dict[str, User]) -> None:
        """A confirmed authenticator with the fixed demo secret for each two-factor role
        user that has none (an administrator's reset is respected: not re-created while
        the user has enrolled another)."""
        for user in users.values():
            secret = DEMO_TOTP_SECRETS.get(user.username)
            if secret is None or user.totpdevice_set.exists():
                continue
            register_device(user, key_hex=key_hex(secret), actor=None, reason="demo authenticator")

    def _users(self) -> dict[str, User]:
        users = {}
        for username, group, is_staff, first, last in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": is_staff, "first_name": first, "last_name": last},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
                user.groups.add(Group.objects.get(name=group))
            users[group] = user
        return users
