"""FHIR answers: `application/fhir+json` bodies and OperationOutcome errors (built in
`core.fhir`, which the second-factor middleware answers with too), searchset Bundles."""

from __future__ import annotations

from fhir.resources.bundle import Bundle

from core.fhir import FHIR_JSON, fhir_response, outcome

__all__ = ["FHIR_JSON", "fhir_response", "outcome", "searchset"]


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
