"""A record that says why it may not be deleted refuses its own `delete()`.

The services ask the same `deletion_refusal()` before they delete (and the admin before
it offers the delete), so the rule has one home and every path hears the same words.
"""

from batches.exceptions import BatchError


class RefusesDeletion:
    """Mixin for an audited model: `deletion_refusal()` returns why this record may not be
    deleted now (None: it may); `delete()` raises it as `deletion_error`."""

    deletion_error: type[BatchError] = BatchError

    def deletion_refusal(self) -> str | None:
        return None

    def delete(self, *args, **kwargs):
        refusal = self.deletion_refusal()
        if refusal:
            raise self.deletion_error(refusal)
        return super().delete(*args, **kwargs)
