"""Token login and logout for the API (django-rest-knox: hashed, expiring tokens).

`POST /api/v1/auth/login/` with `{"username": ..., "password": ...}` (JSON or form)
answers `{"token": ..., "expiry": ...}`; the token is shown once and only its hash is
stored. `POST /api/v1/auth/logout/` with `Authorization: Token <key>` deletes that token.

The login is guarded like the site's logins: a throttle per client address
(`API_LOGIN_RATE`, counted in the shared cache, the address by `core.client_address`),
the lockout after `LOGIN_FAILURE_LIMIT` failures (django-axes: the request handed to
`authenticate` is Django's own, so axes' middleware answers 429 with the end of the
lockout), and for the roles that log in with two factors, the authenticator's code in
`otp_code`.
"""

from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.throttling import ScopedRateThrottle

from core.api.schema import ErrorSerializer
from core.api.tokens import TokenAuthentication
from core.two_factor import check_code, confirmed_device, requires_two_factors


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Your CellTrack username.")
    password = serializers.CharField(
        style={"input_type": "password"}, trim_whitespace=False, help_text="Your password."
    )
    otp_code = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="The 6-digit code of your authenticator app: needed by the roles that "
        "log in with two factors (QP, production, clinician).",
    )

    def validate(self, attrs):
        request = self.context.get("request")
        # Django's request, not DRF's: axes marks it, and its middleware answers a
        # lockout (429, with the end of the lockout) instead of this view.
        django_request = getattr(request, "_request", request)
        user = authenticate(
            request=django_request,
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                "Unable to log in with this username and password.", code="authorization"
            )
        if requires_two_factors(user):
            device = confirmed_device(user)
            if device is None:
                raise serializers.ValidationError(
                    "This account logs in with two factors and has no authenticator app "
                    "yet: log in at /accounts/login/ in a browser to enrol one.",
                    code="otp_enrolment",
                )
            if not attrs.get("otp_code"):
                raise serializers.ValidationError(
                    "This account logs in with two factors: send the 6-digit code of its "
                    "authenticator app as otp_code.",
                    code="otp_required",
                )
            if not check_code(
                user, device, attrs["otp_code"], request=django_request, where="api-login"
            ):
                raise serializers.ValidationError(
                    "The code is not correct or was already used: send the next code of "
                    "the authenticator app.",
                    code="otp_invalid",
                )
        attrs["user"] = user
        return attrs


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="The API token: send it as `Authorization: Token <token>`. Shown only "
        "once; the server keeps only its hash."
    )
    expiry = serializers.DateTimeField(allow_null=True, help_text="When the token stops working.")


class LoginView(KnoxLoginView):
    """Exchange a username and password for an expiring API token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    # Slows password guessing: a few attempts a minute per client address.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "api-login"
    serializer_class = LoginSerializer
    public_endpoint = True

    def get_user_serializer_class(self):
        return None

    @extend_schema(
        request=LoginSerializer,
        responses={
            200: TokenSerializer,
            429: OpenApiResponse(
                ErrorSerializer,
                description="Too many login attempts (throttled), or the account or "
                "address is locked out after failed logins: `detail` says until when.",
            ),
        },
        auth=[],
    )
    def post(self, request, format=None):
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        request.user = serializer.validated_data["user"]
        # Expired tokens are not read on every request (core.api.tokens): cleared here.
        AuthToken.objects.filter(user=request.user, expiry__lt=timezone.now()).delete()
        return super().post(request, format=format)


class LogoutView(KnoxLogoutView):
    """Revoke the token this request is authenticated with."""

    authentication_classes = [TokenAuthentication]

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Token revoked.")})
    def post(self, request, format=None):
        return super().post(request, format=format)
