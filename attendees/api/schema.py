"""The OpenAPI document states every answer the API gives, refusals included."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="Machine code, on refusals by the rules.")


error = OpenApiResponse(ErrorSerializer, description="Refused; nothing recorded.")
field_errors = OpenApiResponse(
    OpenApiTypes.OBJECT, description="Bad input: a list of messages per field, or a `detail` sentence."
)


class AttendeesAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the refusals every operation can answer with."""

    def _resolve_path_parameters(self, variables):
        # Ids are matched loosely in the URL (anything else answers a JSON 404), but they are integers.
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["name"] in {"id", "pk"}:
                parameter["schema"] = {"type": "integer"}
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        refusals = {
            "401": OpenApiResponse(ErrorSerializer, description="Not authenticated."),
            "403": OpenApiResponse(ErrorSerializer, description="Missing permission."),
        }
        if "{" in self.path:
            refusals["404"] = OpenApiResponse(ErrorSerializer, description="No such object.")
        if self.method in {"POST", "PUT", "PATCH"}:
            refusals["400"] = field_errors
            refusals["415"] = OpenApiResponse(ErrorSerializer, description="Unsupported media type.")
        if self._is_list_view():
            refusals["400"] = field_errors
            refusals["404"] = OpenApiResponse(ErrorSerializer, description="No such page.")
        for code, response in refusals.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses
