"""OpenAPI generation: documented errors and the CSV variant of every collection."""

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from core.api.export import CSVExportMixin


class TokenScheme(KnoxTokenScheme):
    """The API's token class (`core.api.tokens`) has knox's security scheme."""

    target_class = "core.api.tokens.TokenAuthentication"


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words a person can act on.")
    errors = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Field-by-field messages when a parameter or filter value is invalid.",
    )


_ERRORS = {
    "400": "A filter or parameter value is invalid (see `errors`).",
    "401": "No valid credentials: send `Authorization: Token <key>` or log in.",
    "403": "Your role may not read this.",
    "404": "No such record (or an invalid cursor).",
}


_PATH_PARAMETERS = {
    "code": "The record's natural code (donor, batch = DIN + check character, bag, patient).",
    "seq": "Position of the event in the audit chain.",
    "id": "Identifier of the record.",
}


class CellTrackAutoSchema(AutoSchema):
    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if not parameter.get("description"):
                parameter["description"] = _PATH_PARAMETERS.get(parameter["name"], "")
        return parameters

    def _csv_list(self) -> bool:
        return (
            self.method == "GET"
            and isinstance(self.view, CSVExportMixin)
            and getattr(self.view, "action", None) == "list"
        )

    def map_renderers(self, attribute):
        # CSV is documented separately (a string body, see below), not as JSON-shaped.
        return [r for r in super().map_renderers(attribute) if r not in ("text/csv", "csv")]

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._csv_list():
            parameters.append(
                OpenApiParameter(
                    "format",
                    str,
                    enum=["json", "csv"],
                    description="`csv` streams every row matching the filters as CSV, "
                    "unpaginated; nested objects become dotted columns.",
                )
            )
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        if self._csv_list() and "200" in responses:
            responses["200"].setdefault("content", {})["text/csv"] = {
                "schema": {"type": "string", "description": "CSV, one line per record."}
            }
        error_ref = self.resolve_serializer(ErrorSerializer, "response").ref
        public = getattr(self.view, "public_endpoint", False)
        for code, description in _ERRORS.items():
            if public and code in ("401", "403"):
                continue
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": error_ref}},
                },
            )
        return responses
