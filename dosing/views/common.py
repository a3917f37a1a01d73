"""What the pharmacy and ward pages share: permissions, refusals, the dose lookup."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core.exceptions import DomainError
from dosing.models import Dose

VIEW = "dosing.view_dose"
ALLOCATE = "dosing.allocate_dose"
DISPENSE = "dosing.dispense_dose"
INFUSE = "dosing.record_infusion"
ASSESS = "patients.add_clinicalassessment"

PHARMACY = "the pharmacy"
WARD = "the ward"


def requires(perm):
    """Anonymous → login page; signed in without the permission → 403."""

    def decorator(view):
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorator


def show_refusal(form, error: DomainError):
    """Each refusal next to the field it names, else once at the top of the form."""
    for name, message in error.field_messages():
        field = form.fields.get(name) if name else None
        form.add_error(name if field is not None and not field.widget.is_hidden else None, message)


def dose_or_404(pk) -> Dose:
    return get_object_or_404(Dose.objects.select_related("patient", "protocol", "batch"), pk=pk)


def local_input(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M") if moment else None
