"""Assay methods (an instrument or method and its reportable range), which imported
results name."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from batches.models import AssayMethod
from batches.services.base import correct_record, refuse_unknown, save_validated


@transaction.atomic
def create_assay_method(
    *, actor: AbstractBaseUser | None, reason: str = "", **fields
) -> AssayMethod:
    refuse_unknown(fields, AssayMethod.RECORD_FIELDS, "These fields cannot be recorded")
    return save_validated(AssayMethod(**fields), actor=actor, reason=reason)


@transaction.atomic
def correct_assay_method(
    method: AssayMethod, *, actor: AbstractBaseUser | None, reason: str = "", **changes
) -> AssayMethod:
    """Correct a method's name, unit or range (results already recorded keep theirs)."""
    return correct_record(
        method, changes, allowed=AssayMethod.RECORD_FIELDS, actor=actor, reason=reason
    )
