"""What every production service shares: locking a batch, turning validation into
messages a user can act on."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from batches.models import Batch


def validation_messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [f"{field}: {msg}" for field, msgs in error.message_dict.items() for msg in msgs]
    return list(error.messages)


def lock_batch(batch: Batch) -> Batch:
    return (
        Batch.objects.select_for_update()
        .select_related("donor", "procurement", "facility", "specification")
        .get(pk=batch.pk)
    )
