"""The administrator's side of logins: see and lift lockouts (axes' admin), reset a lost
authenticator (django-otp's TOTP device admin) — each change on the audit trail.

Registered over the two packages' own admin classes by `audit.login_trail.connect()`
(at start-up, after the admin's autodiscovery). Only superusers have these models'
permissions: no role is given them.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.db import transaction
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.admin import IsoDateFields
from audit.authenticators import record_device_change, reset_authenticator
from audit.writer import write_event


def _record_lift(attempt: AccessAttempt, actor) -> None:
    write_event(
        action="lockout_lifted",
        object_type="axes.accessattempt",
        object_id=str(attempt.pk),
        object_repr=attempt.username or "(no name)",
        changes={
            "username": [attempt.username, None],
            "client_address": [attempt.ip_address, None],
            "failures": [attempt.failures_since_start, None],
        },
        reason="lifted by an administrator",
        actor=actor,
    )


class LockoutAdmin(AccessAttemptAdmin):
    """Failed-login counters; deleting one lifts its lockout (on the audit trail)."""

    actions = [*AccessAttemptAdmin.actions, "lift_lockouts"]

    @admin.action(description="Lift the lockout of the selected attempts", permissions=["delete"])
    def lift_lockouts(self, request, queryset):
        count = len(self._lift(request, queryset))
        self.message_user(request, f"{count} lockout record(s) lifted.", messages.SUCCESS)

    def _lift(self, request, queryset):
        with transaction.atomic():
            attempts = list(queryset)
            for attempt in attempts:
                _record_lift(attempt, request.user)
            AccessAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
        return attempts

    def delete_model(self, request, obj):
        with transaction.atomic():
            _record_lift(obj, request.user)
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._lift(request, queryset)


class AuthenticatorAdmin(TOTPDeviceAdmin):
    """Users' authenticator apps (TOTP). *Reset* removes a user's devices: the user enrols
    a new app at the next login. The secret is never shown here."""

    actions = ["reset_authenticators"]

    @admin.action(
        description="Reset: remove the authenticator (the user enrols again)",
        permissions=["delete"],
    )
    def reset_authenticators(self, request, queryset):
        users = {device.user for device in queryset.select_related("user")}
        for user in sorted(users, key=lambda u: u.pk):
            reset_authenticator(user, actor=request.user, reason="reset by an administrator")
        self.message_user(
            request,
            f"Authenticator reset for {len(users)} user(s): each enrols a new one at the "
            "next login.",
            messages.SUCCESS,
        )

    def delete_model(self, request, obj):
        reset_authenticator(
            obj.user,
            actor=request.user,
            reason="device deleted by an administrator",
            devices=[obj],
        )

    def delete_queryset(self, request, queryset):
        for device in queryset.select_related("user"):
            reset_authenticator(
                device.user,
                actor=request.user,
                reason="device deleted by an administrator",
                devices=[device],
            )

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            record_device_change(
                obj,
                actor=request.user,
                action="otp_device_changed" if change else "otp_device_added",
                fields=sorted(form.changed_data),
            )


def register() -> None:
    for model, model_admin in ((AccessAttempt, LockoutAdmin), (TOTPDevice, AuthenticatorAdmin)):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
        admin.site.register(model, model_admin)
    iso_dates_everywhere()


def iso_dates_everywhere() -> None:
    """Every admin page types dates and times one way (`audit.admin.IsoDateFields`), the
    libraries' too (users, lockouts, authenticators, tokens): each registered admin
    without it is registered again as itself with it, inlines included."""
    for model, model_admin in list(admin.site._registry.items()):
        if isinstance(model_admin, IsoDateFields):
            continue
        cls = type(model_admin)
        inlines = [_with_iso_dates(inline) for inline in cls.inlines]
        admin.site.unregister(model)
        admin.site.register(model, _with_iso_dates(cls, inlines=inlines))


def _with_iso_dates(cls, **attrs):
    if issubclass(cls, IsoDateFields):
        return cls
    return type(cls.__name__, (IsoDateFields, cls), {"__module__": cls.__module__, **attrs})
