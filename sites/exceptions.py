"""Refusals of changes to site records, each with a message a user can act on."""

from core.exceptions import DomainError


class FacilityError(DomainError):
    """A change to a GMP facility was refused (invalid, or still referred to)."""
