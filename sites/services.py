"""Every change of a site record: the only writer of GMP facilities.

Each runs in one transaction, validates the record (`full_clean`), writes its audit
event in an `audit_context` naming the actor and the reason, and raises `FacilityError`
with a message the user can act on.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import audit_context
from core.exceptions import validation_messages
from sites.exceptions import FacilityError
from sites.models import Facility

FACILITY_FIELDS = ("fin", "name", "authorisation_ref")


def _save(facility: Facility, *, actor, reason: str) -> Facility:
    try:
        facility.full_clean()
    except ValidationError as error:
        raise FacilityError(validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        facility.save()
    return facility


def _known(fields: dict) -> dict:
    unknown = set(fields) - set(FACILITY_FIELDS)
    if unknown:
        raise FacilityError(f"These facility fields do not exist: {', '.join(sorted(unknown))}.")
    return fields


@transaction.atomic
def create_facility(*, actor: AbstractBaseUser | None, reason: str = "", **fields) -> Facility:
    """A new GMP facility (`FACILITY_FIELDS`; the FIN is unique)."""
    return _save(Facility(**_known(fields)), actor=actor, reason=reason)


@transaction.atomic
def correct_facility(
    facility: Facility, *, actor: AbstractBaseUser | None, reason: str = "", **changes
) -> Facility:
    """Correct a facility's FIN, name or GMP authorisation (no reason is required: a
    facility is not closed by a decision)."""
    facility = Facility.objects.select_for_update().get(pk=facility.pk)
    for name, value in _known(changes).items():
        setattr(facility, name, value)
    return _save(facility, actor=actor, reason=reason)


@transaction.atomic
def delete_facility(facility: Facility, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Delete a facility entered by mistake: refused while a batch was made there."""
    if not reason.strip():
        raise FacilityError(f"Give the reason for deleting facility {facility.fin}.")
    facility = Facility.objects.select_for_update().get(pk=facility.pk)
    # Asked before the delete, whose audit event is written first (a refused DELETE
    # would doom the transaction).
    if any(
        rel.related_model._base_manager.filter(**{rel.field.name: facility}).exists()
        for rel in Facility._meta.related_objects
    ):
        raise FacilityError(
            f"Facility {facility.fin} cannot be deleted: batches made there refer to it."
        )
    with audit_context(actor=actor, reason=reason.strip()):
        facility.delete()
