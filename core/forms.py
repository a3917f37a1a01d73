"""How a page shows a refusal: each message beside the field it names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django import forms

from core.exceptions import DomainError


def show_refusal(
    error: DomainError,
    forms_in_page: Sequence[forms.BaseForm],
    aliases: Mapping[str, str] | None = None,
) -> None:
    """Put each of a service's messages next to the field it names (on whichever form of
    the page has that visible field), else at the top of the first form.

    `aliases` maps a service field name to a form field name where they differ.
    """
    aliases = aliases or {}
    for field, message in error.field_messages():
        name = aliases.get(field, field) if field else None
        target = next(
            (
                form
                for form in forms_in_page
                if name in form.fields and not form.fields[name].widget.is_hidden
            ),
            None,
        )
        if target is not None:
            target.add_error(name, message)
        else:
            forms_in_page[0].add_error(None, message)
