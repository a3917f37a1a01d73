"""The second step of a login for the roles with two factors: the code, or the enrolment
of an authenticator app the first time (`core.two_factor`, `audit.authenticators`)."""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login

from audit.authenticators import confirm_enrolment, pending_device
from core.formatting import fmt_time
from core.two_factor import check_code, confirmed_device, requires_two_factors, throttled_until


class CodeForm(forms.Form):
    otp_code = forms.CharField(
        label="Code from your authenticator app",
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text="The 6 digits your authenticator app shows for CellTrack now.",
    )


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url("home")


def _with_next(url_name: str, request) -> str:
    nxt = request.POST.get("next") or request.GET.get("next")
    url = reverse(url_name)
    return f"{url}?{urlencode({'next': nxt})}" if nxt else url


def _throttle_message(until) -> str:
    return (
        "Too many wrong codes: try again after "
        f"{fmt_time(until)} ({timezone.get_current_timezone_name()})."
    )


@never_cache
@sensitive_post_parameters("otp_code")
@login_required
def two_factor_verify(request):
    """The code step: a password-authenticated user of a two-factor role gives the code
    of the enrolled app; the session is then verified (django-otp)."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    device = confirmed_device(user)
    if device is None:
        return redirect(_with_next("two-factor-setup", request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        until = throttled_until(device)
        if until:
            form.add_error("otp_code", _throttle_message(until))
        elif check_code(
            user, device, form.cleaned_data["otp_code"], request=request, where="login"
        ):
            otp_login(request, device)
            return redirect(_next_url(request))
        else:
            form.add_error(
                "otp_code",
                "The code is not correct or was already used: enter the code your app shows now.",
            )
    return render(
        request, "registration/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@sensitive_post_parameters("otp_code")
@login_required
def two_factor_setup(request):
    """Enrol an authenticator app: the secret as text and as an otpauth:// URI (and a QR
    code of it), then the first code it shows. Only while the user has no confirmed
    device: a lost one is reset by an administrator (on the audit trail)."""
    user = request.user
    if not requires_two_factors(user):
        return redirect(_next_url(request))
    if confirmed_device(user) is not None:
        return redirect(_with_next("two-factor", request))
    device = pending_device(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        until = throttled_until(device)
        if until:
            form.add_error("otp_code", _throttle_message(until))
        elif confirm_enrolment(request, device, form.cleaned_data["otp_code"]):
            return redirect(_next_url(request))
        else:
            form.add_error(
                "otp_code",
                "The code is not correct: check that the app was set up with the secret "
                "below and that the phone's clock is right, then enter the code it shows now.",
            )
    secret = b32encode(device.bin_key).decode()
    uri = device.config_url
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "next": _next_url(request),
            "secret": secret,
            "secret_grouped": _grouped(secret),
            "otpauth_uri": uri,
            "qr_data_uri": segno.make(uri, error="m").svg_data_uri(scale=4, border=2),
        },
    )
