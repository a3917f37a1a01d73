"""The FHIR endpoints: read, search-type and metadata, authenticated like /api/v1.

DRF's views give the same authentication (knox tokens, then the session) and the same
checks as the auditor API; every answer, errors included, is FHIR JSON built by the R5
models. None of these views is in the /api/v1 OpenAPI schema (`schema = None`): FHIR's
own contract is the CapabilityStatement.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from vigilance.fhir.capability import capability_statement
from vigilance.fhir.identity import pk_of
from vigilance.fhir.responses import fhir_response, outcome, searchset
from vigilance.fhir.search import RESOURCE_TYPES, SearchError, search_filter

DEFAULT_COUNT = 50
MAX_COUNT = 500
# Accepted `_format` values: everything is answered as FHIR JSON.
JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
PAGING_PARAMS = ("_count", "_cursor", "_format")


class FHIRError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


class AnyAccept(BaseContentNegotiation):
    """Every answer is FHIR JSON, whatever the Accept header asks: no 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type

    def select_parser(self, request, parsers):
        return None


def fhir_exception_handler(exc, context):
    """Each error as an OperationOutcome with its status (401 with the challenge)."""
    if isinstance(exc, FHIRError):
        return outcome(exc.status, exc.code, str(exc))
    if isinstance(exc, Http404):
        return outcome(404, "not-found", "No such resource, or not visible to you.")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = outcome(401, "login", str(exc.detail))
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        return response
    if isinstance(exc, exceptions.APIException):
        code = {403: "forbidden", 405: "not-supported", 429: "throttled"}.get(
            exc.status_code, "processing"
        )
        response = outcome(exc.status_code, code, str(exc.detail))
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    return None


class FHIRView(APIView):
    schema = None  # not part of the /api/v1 OpenAPI schema
    http_method_names = ["get", "head"]  # read-only: anything else is a 405 outcome
    permission_classes = [IsAuthenticated]
    content_negotiation_class = AnyAccept

    def get_exception_handler(self):
        return fhir_exception_handler

    def base_url(self) -> str:
        return self.request.build_absolute_uri(reverse("fhir:base"))

    def check_format(self):
        fmt = self.request.query_params.get("_format")
        if fmt is not None and fmt not in JSON_FORMATS:
            raise FHIRError(400, "not-supported", "_format: this server answers FHIR JSON only.")


class MetadataView(FHIRView):
    def get(self, request):
        self.check_format()
        return fhir_response(capability_statement(self.base_url()))


class ReadView(FHIRView):
    def get(self, request, resource_type, resource_id):
        self.check_format()
        rt = RESOURCE_TYPES[resource_type]
        row = rt.rows(request.user).filter(rt.by_id(resource_id)).first()
        if row is None:
            raise Http404
        return fhir_response(rt.build(row))


def _count(value: str | None) -> int:
    if value is None:
        return DEFAULT_COUNT
    if not re.fullmatch(r"[0-9]{1,3}", value) or int(value) > MAX_COUNT:
        raise FHIRError(400, "invalid", f"_count: a whole number from 0 to {MAX_COUNT}.")
    return int(value)


def _cursor(value: str | None) -> int:
    if value is None:
        return 0
    if pk_of(value) is None:
        raise FHIRError(400, "invalid", "_cursor: use the next link as given.")
    return int(value)


class SearchView(FHIRView):
    """search-type: a searchset Bundle, in key order, `_count` a page; `next` continues
    after the last row of the page (it stays put while new records are added)."""

    def get(self, request, resource_type):
        self.check_format()
        rt = RESOURCE_TYPES[resource_type]
        params = self.search_params(rt)
        count = _count(request.query_params.get("_count"))
        after = _cursor(request.query_params.get("_cursor"))
        try:
            rows = rt.rows(request.user).filter(search_filter(rt, params, request.user))
        except SearchError as error:
            raise FHIRError(400, "invalid", str(error)) from error
        total = rows.count()
        page = list(rows.filter(pk__gt=after).order_by("pk")[: count + 1]) if count else []
        more = len(page) > count
        page = page[:count]
        path = request.build_absolute_uri(request.path)
        query = {**params, "_count": count}
        next_url = None
        if more:
            next_url = f"{path}?{urlencode({**query, '_cursor': page[-1].pk})}"
        if after:
            query["_cursor"] = after
        bundle = searchset(
            [rt.build(row) for row in page],
            base=self.base_url(),
            total=total,
            self_url=f"{path}?{urlencode(query)}",
            next_url=next_url,
        )
        return fhir_response(bundle)

    def search_params(self, rt) -> dict[str, str]:
        params = {}
        for name in self.request.query_params:
            values = self.request.query_params.getlist(name)
            if name in PAGING_PARAMS:
                if len(values) > 1:
                    raise FHIRError(400, "invalid", f"{name}: give it once.")
                continue
            if name not in rt.search_params:
                known = ", ".join((*rt.search_params, *PAGING_PARAMS))
                raise FHIRError(
                    400,
                    "not-supported",
                    f"{name}: not a search parameter of {rt.name} here (known: {known}).",
                )
            if len(values) > 1 or not values[0]:
                raise FHIRError(
                    400, "invalid", f"{name}: give one value (commas for any of several)."
                )
            params[name] = values[0]
        return params


class NotFoundView(FHIRView):
    """Any other path under /api/fhir/: an OperationOutcome, never an HTML page."""

    def get(self, request, *args, **kwargs):
        raise FHIRError(404, "not-found", "No such FHIR path: see /api/fhir/metadata.")
