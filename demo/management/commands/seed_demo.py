"""Load the demo data: users per role and site, and the paper's donors, batches and cohort.

The plain role names work at Salamanca (`pharmacy`, `clinician` at its hospital HUS,
`production`, `qp` at its facility ESSAL; `auditor` network-wide); every other site gets
`<role>-<site code in lower case>` (`pharmacy-fjd`, `qp-esnav`, and `auditor-fjd` for a
hospital's own systems, which read the API and FHIR as an auditor of that hospital).

Idempotent: running it twice leaves the same data (each app's `demo.seed()` checks for
its own records first). Demo passwords are for a local trial only and are printed.

The roles that log in with two factors (production, qp, clinician) get an authenticator
with a fixed, printed secret (`demo.totp.demo_totp_secret`): add it to an authenticator
app, or print the current code with `python manage.py demo_code <username>`.
"""

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from audit.authenticators import register_device
from audit.context import Origin, audit_context, audit_origin
from batches import demo as batches_demo
from demo.totp import demo_totp_secret, key_hex
from dosing import demo as dosing_demo
from patients import demo as patients_demo
from sites import services as site_services
from sites.models import Facility, Hospital

DEMO_PASSWORD = "celltrack-demo"
DEMO_USERS = [
    # username, group, is_staff, first name, last name
    ("production", "production", True, "Paula", "Production"),
    ("qp", "qp", True, "Quentin", "Qualified"),
    ("pharmacy", "pharmacy", False, "Fran", "Pharmacy"),
    ("clinician", "clinician", False, "Carmen", "Clinician"),
    ("auditor", "auditor", False, "Alba", "Auditor"),
]
# Dosing's demo ships the batches' bags to the hospitals and gives them to the cohort's
# patients, so it comes last, after the sites' people are members of them.
DEMO_MODULES = [batches_demo, patients_demo, dosing_demo]
DEMO_START_PAGES = {
    "production": "/admin/",
    "qp": "/admin/",
    "pharmacy": "/pharmacy/",
    "clinician": "/clinic/",
    "auditor": "/api/docs/",
}
# The roles of each kind of site, and the site of the plain role names.
HOSPITAL_ROLES = ("pharmacy", "clinician", "auditor")
FACILITY_ROLES = ("production", "qp")
HOME_HOSPITAL, HOME_FACILITY = "HUS", "ESSAL"
TWO_FACTOR_ROLES = ("production", "qp", "clinician")


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        with audit_origin(Origin.COMMAND), transaction.atomic():
            users = self._users()
            with audit_context(actor=users["production"], reason="demo data"):
                for module in DEMO_MODULES[:-1]:
                    module.seed(users=users, stdout=self.stdout)
                # The sites exist now: their people are members before dosing's demo
                # ships each hospital its bags (production of the facility, pharmacy of
                # the hospital, as the shipment services require).
                logins = self._site_users(users)
                site_users = {(group, site): user for user, group, site in logins.values()}
                DEMO_MODULES[-1].seed(users={**users, "site": site_users}, stdout=self.stdout)
            self._authenticators(logins)
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, (_user, group, site) in logins.items():
            where = DEMO_START_PAGES[group]
            line = f"  {username:<16} {group:<10} {site:<8} → http://127.0.0.1:8000{where}"
            if group in TWO_FACTOR_ROLES:
                line += f"  TOTP secret {demo_totp_secret(username)}"
            self.stdout.write(line)
        self.stdout.write(
            "The TOTP secrets are demo-only: add one to an authenticator app, or print the "
            "current code with `DEBUG=1 .venv/bin/python manage.py demo_code <username>`."
        )

    def _authenticators(self, logins: dict) -> None:
        """A confirmed authenticator with the fixed demo secret for each two-factor role
        user that has none (an administrator's reset is respected: not re-created while
        the user has enrolled another)."""
        for username, (user, group, _site) in logins.items():
            if group not in TWO_FACTOR_ROLES or user.totpdevice_set.exists():
                continue
            secret = demo_totp_secret(username)
            register_device(user, key_hex=key_hex(secret), actor=None, reason="demo authenticator")

    def _site_users(self, users: dict[str, User]) -> dict:
        """Every demo login with its memberships: username → (user, role, site code)."""
        logins = {}
        actor = users["production"]

        def member(user, group, site_code, **site):
            site_services.add_membership(user, actor=actor, reason="demo data", **site)
            logins[user.username] = (user, group, site_code)

        member(users["auditor"], "auditor", "network", network_wide=True)
        for hospital in Hospital.objects.order_by("code"):
            for group in HOSPITAL_ROLES:
                # the plain `auditor` is the network's, so Salamanca's is `auditor-hus`
                if hospital.code == HOME_HOSPITAL and group != "auditor":
                    user = users[group]
                else:
                    user = self._user(f"{group}-{hospital.code.lower()}", group)
                member(user, group, hospital.code, hospital=hospital)
        for facility in Facility.objects.order_by("fin"):
            for group in FACILITY_ROLES:
                if facility.fin == HOME_FACILITY:
                    user = users[group]
                else:
                    user = self._user(f"{group}-{facility.fin.lower()}", group)
                member(user, group, facility.fin, facility=facility)
        return dict(sorted(logins.items(), key=lambda item: (item[1][1], item[0])))

    def _user(self, username: str, group: str) -> User:
        """A demo user of `group` (created once, with the demo password)."""
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "is_staff": group in ("production", "qp"),
                "first_name": group.capitalize(),
                "last_name": username.split("-", 1)[-1].upper(),
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=group))
        return user

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
