"""The API's token authentication: knox's, one query per request.

Imported by DRF's settings while `rest_framework.views` loads, so it imports nothing of
DRF's views (nor of this project's API modules).
"""

from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token check without its per-request read of every other token of the user
    (knox deletes the user's other expired tokens there): an expired token is still
    refused and deleted when used, and the login deletes the user's other expired ones
    (`core.api.auth.LoginView`)."""

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            username = auth_token.user.get_username()
            auth_token.delete()
            token_expired.send(sender=self.__class__, username=username, source="auth_token")
            return True
        return False
