"""The base of every refusal a user can act on."""


class DomainError(Exception):
    """A domain rule refused an operation; the message says why in words a user can act on.

    `messages` carries one line per failed rule where an operation checks several
    (release of a batch lists every failing check, not just the first).
    """

    def __init__(self, message: str | list[str], *, field: str | None = None):
        self.messages = [message] if isinstance(message, str) else list(message)
        self.field = field
        super().__init__("; ".join(self.messages))
