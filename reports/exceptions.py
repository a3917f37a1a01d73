"""The refusals of the report's own records (the published figures)."""

from core.exceptions import DomainError


class PublishedFigureError(DomainError):
    """A published figure could not be recorded or corrected as asked."""
