"""Refusals of dosing operations, each with a message a user can act on."""

from core.exceptions import DomainError


class DosingError(DomainError):
    """A dosing rule refused an operation; nothing was changed."""


class OrderRefused(DosingError):
    """A dose cannot be ordered (eligibility, number of doses, interval, weight)."""


class AllocationError(DosingError):
    """Bags cannot be reserved for a dose (batch, bag state, range, stock)."""


class PreparationError(DosingError):
    """A thaw, refresh or dispense was refused (state, time limits, counts)."""


class InfusionError(DosingError):
    """An infusion record was refused (dose state, filter, time limit, duplicate)."""


class AdverseEventError(DosingError):
    """An adverse event report was refused (inconsistent grade, outcome or dose)."""


class CancellationError(DosingError):
    """A dose cannot be cancelled in its state."""


class ProtocolError(DosingError):
    """A protocol version cannot be created or changed as asked."""
