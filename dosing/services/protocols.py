"""Protocol versions: the settings every dose is calculated and checked under.

A version used by doses keeps its settings (`Protocol.clean`): a change of a setting is a
new version, so each dose keeps the rules it was given under; only `active` may change.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from audit.context import audit_context
from core.exceptions import validation_messages
from dosing.exceptions import ProtocolError
from dosing.models import Protocol

FIELDS = (*Protocol.SETTINGS, "active")


def _check_fields(values: dict) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ProtocolError(f"Not a protocol setting: {', '.join(unknown)}.")


def _validated(protocol: Protocol) -> None:
    try:
        protocol.full_clean()
    except ValidationError as error:
        raise ProtocolError(validation_messages(error)) from None


@transaction.atomic
def create_protocol(*, actor: AbstractBaseUser, reason: str = "", **settings) -> Protocol:
    """A new protocol version. Without a `version`, the next one of its code."""
    _check_fields(settings)
    if settings.get("version") is None and settings.get("code"):
        latest = Protocol.objects.filter(code=settings["code"]).aggregate(v=Max("version"))["v"]
        settings["version"] = (latest or 0) + 1
    protocol = Protocol(**settings)
    _validated(protocol)
    with audit_context(actor=actor, reason=reason.strip() or f"protocol {protocol} created"):
        protocol.save()
    return protocol


@transaction.atomic
def update_protocol(
    protocol: Protocol, *, actor: AbstractBaseUser, reason: str, **changes
) -> Protocol:
    """Change a protocol version with a written reason. Refused: a setting of a version
    already used by doses (make a new version instead), an unknown field, no reason."""
    _check_fields(changes)
    if not reason.strip():
        raise ProtocolError("Write why the protocol is changed.", field="change_reason")
    protocol = Protocol.objects.select_for_update().get(pk=protocol.pk)
    for name, value in changes.items():
        setattr(protocol, name, value)
    _validated(protocol)
    with audit_context(actor=actor, reason=reason.strip()):
        protocol.save()
    return protocol
