"""Token login and logout for the API (django-rest-knox: hashed, expiring tokens).

`POST /api/v1/auth/login/` with `{"username": ..., "password": ...}` (JSON or form)
answers `{"token": ..., "expiry": ...}`; the token is shown once and only its hash is
stored. `POST /api/v1/auth/logout/` with `Authorization: Token <key>` deletes that token.
"""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.throttling import ScopedRateThrottle

from core.api.schema import ErrorSerializer


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Your CellTrack username.")
    password = serializers.CharField(
        style={"input_type": "password"}, trim_whitespace=False, help_text="Your password."
    )

    def validate(self, attrs):
        user = authenticate(
            request=self.context.get("request"),
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                "Unable to log in with this username and password.", code="authorization"
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
                ErrorSerializer, description="Too many login attempts: wait and try again."
            ),
        },
        auth=[],
    )
    def post(self, request, format=None):
        serializer = LoginSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        request.user = serializer.validated_data["user"]
        return super().post(request, format=format)


class LogoutView(KnoxLogoutView):
    """Revoke the token this request is authenticated with."""

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Token revoked.")})
    def post(self, request, format=None):
        return super().post(request, format=format)
