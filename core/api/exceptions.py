"""Every API error as JSON with a `detail` message a person can read.

Validation errors (a bad filter value, say) keep their field-by-field messages under
`errors`; a domain refusal (`DomainError`) becomes a 400 with its reasons.
"""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.exceptions import DomainError


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors)


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(
            {"detail": str(exc), "errors": {exc.field or "non_field_errors": exc.messages}},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": f"Invalid request: {_first_message(exc.detail)}",
            "errors": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    return response
