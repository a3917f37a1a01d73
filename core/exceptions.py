"""The base of every refusal a user can act on."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError


class DomainError(Exception):
    """A domain rule refused an operation; the message says why in words a user can act on.

    `messages` carries one line per failed rule where an operation checks several
    (release of a batch lists every failing check, not just the first); `fields` names
    the form field of each line (None: the form as a whole), `field` the first named one.
    """

    def __init__(
        self,
        message: str | list[str],
        *,
        field: str | None = None,
        fields: Sequence[str | None] | None = None,
    ):
        self.messages = [message] if isinstance(message, str) else list(message)
        self.fields = list(fields) if fields is not None else [field] * len(self.messages)
        self.field = field or next((f for f in self.fields if f), None)
        super().__init__("; ".join(self.messages))

    def field_messages(self) -> list[tuple[str | None, str]]:
        return list(zip(self.fields, self.messages, strict=True))


def validation_messages(error: ValidationError) -> list[str]:
    """A model's ValidationError as lines a user reads: "field: message" per error."""
    if hasattr(error, "error_dict"):
        return [f"{field}: {m}" for field, msgs in error.message_dict.items() for m in msgs]
    return list(error.messages)
