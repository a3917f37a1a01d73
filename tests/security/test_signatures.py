"""E-signatures guarded like logins: a block after wrong passwords, the code at the first
signature of a session, every attempt on the trail."""

import datetime

import pytest
from django import forms
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.utils import timezone

from audit.models import AuditEvent, Signature
from audit.signatures import SignatureError, sign, signing_state
from audit.signing_forms import SignatureFormMixin
from batches.services import release_batch
from core.two_factor import SIGNED_WITH_CODE_SESSION_KEY
from tests.conftest import totp_code, totp_device
from tests.factories import make_release_ready_batch

pytestmark = pytest.mark.django_db


class SignForm(SignatureFormMixin, forms.Form):
    """A signing form as batches' SignForm becomes with the mixin."""

    password = forms.CharField(widget=forms.PasswordInput)


def signing(user, password, **extra):
    return sign(
        signer=user,
        password=password,
        meaning=Signature.Meaning.APPROVED,
        object_type="tests.thing",
        object_id=1,
        content={"thing": 1},
        **extra,
    )


def trail(user):
    return list(
        AuditEvent.objects.filter(actor=user, action__startswith="sign").values_list(
            "action", flat=True
        )
    )


def session_request(user):
    request = RequestFactory().post("/admin/")
    request.user = user
    request.session = SessionStore()
    return request


def test_signing_is_blocked_after_the_wrong_password_limit(qp_user, password, settings):
    assert settings.SIGNATURE_FAILURE_LIMIT == 3
    for attempt in (1, 2):
        with pytest.raises(SignatureError, match="The password is not correct") as error:
            signing(qp_user, "wrong")
        assert f"{3 - attempt} more failed attempt" in str(error.value)
    with pytest.raises(SignatureError, match="Signing is now blocked until"):
        signing(qp_user, "wrong")

    with pytest.raises(SignatureError, match="Signing is blocked until") as error:
        signing(qp_user, password)  # the right password, during the block

    until = timezone.localtime(timezone.now() + datetime.timedelta(minutes=15))
    assert f"{until:%Y-%m-%d %H:}" in str(error.value)
    assert not Signature.objects.exists()
    assert trail(qp_user) == [
        "sign_failed",
        "sign_failed",
        "sign_failed",
        "sign_blocked",
        "sign_refused",
    ]
    failed = AuditEvent.objects.filter(action="sign_failed").last()
    assert failed.changes["attempt"] == [None, 3]
    assert failed.reason == "wrong password"


def test_signing_is_possible_again_after_the_cool_off(qp_user, password, monkeypatch):
    for _ in range(3):
        with pytest.raises(SignatureError):
            signing(qp_user, "wrong")
    later = timezone.now() + datetime.timedelta(minutes=16)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert signing(qp_user, password).signer == qp_user
    assert signing_state(qp_user, later) == (None, 0)


def test_a_signature_ends_a_run_of_failures(qp_user, password):
    for _ in range(2):
        with pytest.raises(SignatureError):
            signing(qp_user, "wrong")
    signing(qp_user, password)
    for _ in range(2):
        with pytest.raises(SignatureError, match="more failed attempt"):
            signing(qp_user, "wrong")

    assert signing(qp_user, password)


def test_failures_counted_by_the_form_block_the_service_too(qp_user, password):
    """The signing form checks outside any transaction, so its refusals stay on the trail
    and count; the block then also stops the service (release_batch → sign)."""
    request = session_request(qp_user)
    request.session[SIGNED_WITH_CODE_SESSION_KEY] = True  # not the session's first signature
    for _ in range(3):
        form = SignForm({"password": "wrong"}, user=qp_user, request=request)
        assert not form.is_valid()
    assert "Signing is now blocked until" in form.errors["password"][0]

    batch = make_release_ready_batch()
    with pytest.raises(SignatureError, match="Signing is blocked until"):
        release_batch(batch, actor=qp_user, password=password)
    batch.refresh_from_db()
    assert batch.status == batch.Status.QUARANTINE


def test_the_first_signature_of_a_session_needs_the_code_later_ones_only_the_password(
    qp_user, password
):
    device = totp_device(qp_user)
    request = session_request(qp_user)

    first = SignForm(user=qp_user, request=request)
    assert "otp_code" in first.fields
    missing = SignForm({"password": password}, user=qp_user, request=request)
    assert not missing.is_valid()
    assert missing.errors["otp_code"]

    wrong = SignForm({"password": password, "otp_code": "000000"}, user=qp_user, request=request)
    assert not wrong.is_valid()
    assert "The code is not correct" in wrong.errors["otp_code"][0]
    assert AuditEvent.objects.get(action="sign_failed").reason == "wrong or missing code"
    device.refresh_from_db()
    device.throttle_reset()  # django-otp holds a device back a second after a wrong code

    right = SignForm(
        {"password": password, "otp_code": totp_code(qp_user, device)},
        user=qp_user,
        request=request,
    )
    assert right.is_valid(), right.errors
    assert right.cleaned_data == {"password": password}  # the service's arguments
    assert request.session[SIGNED_WITH_CODE_SESSION_KEY] is True

    later = SignForm(user=qp_user, request=request)
    assert "otp_code" not in later.fields
    assert SignForm({"password": password}, user=qp_user, request=request).is_valid()


def test_a_new_login_is_a_new_session_that_needs_the_code_again(client, qp_user, password):
    client.force_login(qp_user)
    session = client.session
    session[SIGNED_WITH_CODE_SESSION_KEY] = True
    session.save()

    client.force_login(qp_user)

    assert SIGNED_WITH_CODE_SESSION_KEY not in client.session


def test_a_role_without_two_factors_signs_with_the_password(auditor, password):
    auditor_request = session_request(auditor)
    assert "otp_code" not in SignForm(user=auditor, request=auditor_request).fields
