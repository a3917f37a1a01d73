"""The published figures a report is compared with: entered once, corrected with a reason.

The only writers of `PublishedFigure` (the admin calls them; a superuser's only), each in
one transaction with its audit event.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import audit_context
from core.exceptions import validation_messages
from reports.exceptions import PublishedFigureError
from reports.models import PublishedFigure

FIELDS = ("protocol_code", "source", "figure", "value", "as_published")


def _checked(figure: PublishedFigure) -> None:
    try:
        figure.full_clean()
    except ValidationError as error:
        raise PublishedFigureError(validation_messages(error)) from None


def _known(values: dict) -> None:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise PublishedFigureError(f"Not a field of a published figure: {', '.join(unknown)}.")


@transaction.atomic
def create_published_figure(
    *, actor: AbstractBaseUser, reason: str = "", **values
) -> PublishedFigure:
    """Record one figure of a publication for a protocol (refused: a duplicate, a field
    missing or unknown)."""
    _known(values)
    figure = PublishedFigure(**values)
    _checked(figure)
    with audit_context(actor=actor, reason=reason.strip() or f"published figure {figure} entered"):
        figure.save()
    return figure


@transaction.atomic
def correct_published_figure(
    figure: PublishedFigure, *, actor: AbstractBaseUser, reason: str, **changes
) -> PublishedFigure:
    """Correct a published figure with a written reason (a misread of the publication),
    audited with the reason. Refused without a reason, or with an unknown field."""
    _known(changes)
    if not reason.strip():
        raise PublishedFigureError(
            "Write why the published figure is corrected.", field="change_reason"
        )
    figure = PublishedFigure.objects.select_for_update().get(pk=figure.pk)
    for name, value in changes.items():
        setattr(figure, name, value)
    _checked(figure)
    with audit_context(actor=actor, reason=reason.strip()):
        figure.save()
    return figure
