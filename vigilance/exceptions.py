from core.exceptions import DomainError


class VigilanceError(DomainError):
    """A recall, notice or reaction report that cannot be made as asked."""


class ReportRefused(VigilanceError):
    """A reaction notification part that cannot be submitted (every reason at once)."""
