"""The CapabilityStatement at /api/fhir/metadata: what this server reads and searches."""

from __future__ import annotations

from fhir.resources.capabilitystatement import CapabilityStatement

from vigilance.fhir.responses import FHIR_JSON
from vigilance.fhir.search import RESOURCE_TYPES

# The day this statement last changed (a CapabilityStatement's `date`).
STATEMENT_DATE = "2026-12-02"

_PARAM_DOCS = {
    "_id": ("token", "The resource id."),
    "identifier": ("token", "[system|]value; several separated by commas."),
    "patient": ("reference", "Patient/<id> or the id (the pseudonymised patient code)."),
    "_count": ("number", "Entries per page (0–500, default 50)."),
}


def capability_statement(base_url: str) -> CapabilityStatement:
    return CapabilityStatement(
        status="active",
        date=STATEMENT_DATE,
        kind="instance",
        name="CellTrackFHIR",
        title="CellTrack read-only FHIR R5 server",
        description="Bags, dispensings, infusions, adverse events and pseudonymised patients "
        "of the AT-MSC cell-therapy record, read-only, limited to the reader's sites.",
        software={"name": "CellTrack"},
        implementation={"description": "CellTrack FHIR server", "url": base_url},
        fhirVersion="5.0.0",
        format=[FHIR_JSON, "json"],
        rest=[
            {
                "mode": "server",
                "documentation": "Read-only: read and search-type only; anything else is "
                "refused (405).",
                "security": {
                    "description": "Authorization: Token <key> (an expiring API token, see "
                    "/api/v1/auth/login/) or a CellTrack session. Unauthenticated: 401. "
                    "A record outside the reader's sites: 404.",
                },
                "resource": [
                    {
                        "type": rt.name,
                        "documentation": rt.documentation,
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "searchParam": [
                            {
                                "name": name,
                                "type": _PARAM_DOCS[name][0],
                                "documentation": _PARAM_DOCS[name][1],
                            }
                            for name in (*rt.search_params, "_count")
                        ],
                    }
                    for rt in RESOURCE_TYPES.values()
                ],
            }
        ],
    )
