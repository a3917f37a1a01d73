"""Every change of a site record: the only writer of facilities, hospitals and memberships.

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
from sites.models import Facility, Hospital, Membership
from sites.scope import forget_site_scope

FACILITY_FIELDS = ("fin", "name", "authorisation_ref", "time_zone", "notification_email")
HOSPITAL_FIELDS = ("code", "name", "patient_code_prefix", "time_zone", "notification_email")


def _save(record, *, actor, reason: str):
    try:
        record.full_clean()
    except ValidationError as error:
        raise FacilityError(validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        record.save()
    return record


def _known(fields: dict, allowed=FACILITY_FIELDS, noun="facility") -> dict:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise FacilityError(f"These {noun} fields do not exist: {', '.join(sorted(unknown))}.")
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


def _delete_unreferenced(site, *, noun: str, code: str, actor, reason: str) -> None:
    """Delete a site record entered by mistake, with a reason: refused, naming what
    refers to it, while any record (a batch, a patient, a storage position, a member)
    does. Asked before the delete, whose audit event is written first (a refused DELETE
    would doom the transaction)."""
    if not reason.strip():
        raise FacilityError(f"Give the reason for deleting {noun} {code}.")
    site = type(site).objects.select_for_update().get(pk=site.pk)
    referring = sorted(
        str(rel.related_model._meta.verbose_name_plural)
        for rel in type(site)._meta.related_objects
        if rel.related_model._base_manager.filter(**{rel.field.name: site}).exists()
    )
    if referring:
        raise FacilityError(
            f"{noun.capitalize()} {code} cannot be deleted: {', '.join(referring)} refer to it."
        )
    with audit_context(actor=actor, reason=reason.strip()):
        site.delete()


@transaction.atomic
def delete_facility(facility: Facility, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Delete a facility entered by mistake: refused while anything refers to it."""
    _delete_unreferenced(facility, noun="facility", code=facility.fin, actor=actor, reason=reason)


@transaction.atomic
def create_hospital(*, actor: AbstractBaseUser | None, reason: str = "", **fields) -> Hospital:
    """A new hospital of the network (`HOSPITAL_FIELDS`; code and patient prefix unique)."""
    return _save(
        Hospital(**_known(fields, HOSPITAL_FIELDS, "hospital")), actor=actor, reason=reason
    )


@transaction.atomic
def correct_hospital(
    hospital: Hospital, *, actor: AbstractBaseUser | None, reason: str = "", **changes
) -> Hospital:
    """Correct a hospital's name, codes, time zone or notification address."""
    hospital = Hospital.objects.select_for_update().get(pk=hospital.pk)
    for name, value in _known(changes, HOSPITAL_FIELDS, "hospital").items():
        setattr(hospital, name, value)
    return _save(hospital, actor=actor, reason=reason)


@transaction.atomic
def delete_hospital(hospital: Hospital, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Delete a hospital entered by mistake: refused while a patient, a storage position or
    a member refers to it."""
    _delete_unreferenced(hospital, noun="hospital", code=hospital.code, actor=actor, reason=reason)


@transaction.atomic
def add_membership(
    user,
    *,
    facility: Facility | None = None,
    hospital: Hospital | None = None,
    network_wide: bool = False,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> Membership:
    """Make `user` a member of one site (or, for an auditor, of the whole network). Being
    a member again of the same site changes nothing."""
    existing = Membership.objects.filter(
        user=user, facility=facility, hospital=hospital, network_wide=network_wide
    ).first()
    if existing is not None:
        return existing
    membership = _save(
        Membership(user=user, facility=facility, hospital=hospital, network_wide=network_wide),
        actor=actor,
        reason=reason or "site membership added",
    )
    forget_site_scope(user)
    return membership


@transaction.atomic
def remove_membership(membership: Membership, *, actor: AbstractBaseUser | None, reason: str):
    """End a user's membership of a site (what they saw there, they no longer see)."""
    if not reason.strip():
        raise FacilityError("Give the reason for removing the membership.")
    with audit_context(actor=actor, reason=reason.strip()):
        membership.delete()
    forget_site_scope(membership.user)
