"""Refusals of patient operations, each with a message a user can act on."""

from __future__ import annotations

from core.exceptions import DomainError


class PatientError(DomainError):
    """A rule refused an operation on a patient or one of the patient's records."""


class InvalidPatientData(PatientError):
    """Entered values break a rule of the record; `field_errors` maps field → messages.

    `field_errors` uses the model's field names (forms may show them next to the field);
    errors not tied to one field are under None.
    """

    def __init__(self, field_errors: dict[str | None, list[str]]):
        self.field_errors = field_errors
        pairs = [(field, m) for field, msgs in field_errors.items() for m in msgs]
        super().__init__([m for _, m in pairs], fields=[field for field, _ in pairs])


class DuplicatePatientCode(PatientError):
    """The pseudonymised code is already registered."""


class CorrectionReasonMissing(PatientError):
    """A correction of a recorded value was attempted without a written reason."""
