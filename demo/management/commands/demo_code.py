"""Print the current authenticator code of a demo user (demo secrets only).

    DEBUG=1 .venv/bin/python manage.py demo_code qp

For trying the demo without a phone. Refuses any user whose authenticator does not carry
the fixed demo secret, so it can tell nothing about a real account.
"""

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from demo.totp import demo_totp_secret, key_hex


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo user (demo secrets only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        device = TOTPDevice.objects.filter(
            user__username=username, confirmed=True, key=key_hex(demo_totp_secret(username))
        ).first()
        if device is None:
            raise CommandError(
                f"{username} has no authenticator with the demo secret (run seed_demo)."
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
