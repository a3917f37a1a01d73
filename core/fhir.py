"""FHIR answers any layer may give: an `application/fhir+json` body and the
OperationOutcome of an error. The FHIR API itself (`vigilance.fhir`) answers with these,
and so does a request-wide rule (`core.middleware`) refusing a path under `FHIR_PATH`."""

from __future__ import annotations

from django.http import HttpResponse
from fhir.resources.operationoutcome import OperationOutcome

FHIR_JSON = "application/fhir+json"
# Where config/urls.py mounts the FHIR API: a client there reads OperationOutcomes only.
FHIR_PATH = "/api/fhir/"


def fhir_response(resource, status: int = 200) -> HttpResponse:
    """The resource serialised by its R5 model (empty elements left out)."""
    return HttpResponse(
        resource.model_dump_json(exclude_none=True),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )


def outcome(status: int, code: str, message: str) -> HttpResponse:
    """An OperationOutcome with one error issue (`code` from FHIR's issue-type codes)."""
    return fhir_response(
        OperationOutcome(issue=[{"severity": "error", "code": code, "diagnostics": message}]),
        status=status,
    )
