"""FHIR answers: `application/fhir+json` bodies, OperationOutcome errors, searchset Bundles."""

from __future__ import annotations

from django.http import HttpResponse
from fhir.resources.bundle import Bundle
from fhir.resources.operationoutcome import OperationOutcome

FHIR_JSON = "application/fhir+json"


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


def searchset(resources, *, base: str, total: int, self_url: str, next_url: str | None):
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return Bundle(
        type="searchset",
        total=total,
        link=links,
        entry=[
            {
                "fullUrl": f"{base}{resource.get_resource_type()}/{resource.id}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ]
        or None,
    )
