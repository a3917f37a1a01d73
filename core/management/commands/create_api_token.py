"""Issue an API token for a user; the token itself is printed on the last line.

    python manage.py create_api_token audit1
    python manage.py create_api_token audit1 --hours 2

Only the token's hash is stored (django-rest-knox), so this is the only time it is
shown. It expires after REST_KNOX["TOKEN_TTL"] unless --hours says otherwise.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken
from knox.settings import knox_settings


class Command(BaseCommand):
    help = "Create an expiring API token for a user and print it on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--hours",
            type=float,
            default=None,
            help="Lifetime in hours (default: the API_TOKEN_TTL_HOURS setting).",
        )

    def handle(self, *args, username, hours, **options):
        User = get_user_model()
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        if hours is not None and hours <= 0:
            raise CommandError("--hours must be positive.")
        ttl = timedelta(hours=hours) if hours is not None else knox_settings.TOKEN_TTL
        instance, token = AuthToken.objects.create(user=user, expiry=ttl)
        expiry = instance.expiry.isoformat() if instance.expiry else "never"
        self.stdout.write(f"Token for {username}, expires {expiry}. Shown once; keep it safe:")
        self.stdout.write(token)
