"""Authenticator apps (TOTP devices) of the users who log in with two factors: enrolment,
the administrator's reset, and their audit events. Each operation writes its event in
the same transaction as the change; the secret itself is never written anywhere but the
device row."""

from __future__ import annotations

from django.db import transaction
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.writer import write_event
from core.client_address import client_address
from core.two_factor import check_code

DEVICE_NAME = "authenticator app"


def _event(action, user, *, actor, reason="", **changes):
    write_event(
        action=action,
        object_type="auth.user",
        object_id=str(user.pk),
        object_repr=user.get_username(),
        changes={key: [None, value] for key, value in changes.items()},
        reason=reason,
        actor=actor,
    )


def pending_device(user) -> TOTPDevice:
    """The unconfirmed device an enrolment shows (the same one until it is confirmed, so
    the secret does not change while the user scans it)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def confirm_enrolment(request, device: TOTPDevice, code: str) -> bool:
    """The first code proves the app holds the secret: the device is confirmed, this
    session counts as verified, and `otp_enrolled` is on the trail. False (nothing
    changed, `otp_failed` on the trail) when the code is wrong."""
    user = request.user
    if not check_code(user, device, code, request=request, where="enrolment"):
        return False
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
        _event(
            "otp_enrolled",
            user,
            actor=user,
            device=device.persistent_id,
            client_address=client_address(request),
        )
    otp_login(request, device)
    return True


@transaction.atomic
def reset_authenticator(user, *, actor, reason: str, devices=None) -> int:
    """Remove the user's authenticator devices (all, or `devices`): a lost phone. The user
    enrols a new app at the next login; sessions verified with a removed device are no
    longer verified (django-otp re-reads the device on every request)."""
    queryset = TOTPDevice.objects.filter(user=user)
    if devices is not None:
        queryset = queryset.filter(pk__in=[d.pk for d in devices])
    removed = sorted(d.persistent_id for d in queryset)
    if not removed:
        return 0
    queryset.delete()
    _event("otp_reset", user, actor=actor, reason=reason, devices_removed=removed)
    return len(removed)


def record_device_change(device: TOTPDevice, *, actor, action: str, fields: list[str]) -> None:
    """An administrator added or edited a device by hand (which fields; never the key)."""
    _event(
        action,
        device.user,
        actor=actor,
        device=device.persistent_id,
        fields=[f for f in fields if f != "key"] + (["key (hidden)"] if "key" in fields else []),
        confirmed=device.confirmed,
    )


@transaction.atomic
def register_device(user, *, key_hex: str, actor, reason: str) -> TOTPDevice:
    """A confirmed device with a secret given by the caller (the demo loader's fixed,
    demo-only secrets), with its `otp_enrolled` event."""
    device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, key=key_hex, confirmed=True)
    _event("otp_enrolled", user, actor=actor, reason=reason, device=device.persistent_id)
    return device
