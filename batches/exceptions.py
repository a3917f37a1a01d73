"""Refusals of production operations, each with a message a user can act on."""

from core.exceptions import DomainError


class BatchError(DomainError):
    """A production rule refused an operation on a donor, batch or bag."""


class BagTransitionError(BatchError):
    """A bag was asked to move to a status its current status does not lead to."""


class NotEnoughPositionsError(BagTransitionError):
    """A box has fewer free positions (`free`) than bags to put in it."""

    def __init__(self, message: str, *, free: int):
        super().__init__(message)
        self.free = free


class ReleaseError(BatchError):
    """A batch cannot be released: `messages` lists every failing rule."""


class BagCreationError(BatchError):
    """Bags could not be created for a batch (state, count or storage)."""


class SpecificationInUseError(BatchError):
    """A specification version a QP decision was made against cannot change: make a new one."""


class ShipmentError(BatchError):
    """A shipment step (create, dispatch, receive, the QP's decision, a request) was refused."""
