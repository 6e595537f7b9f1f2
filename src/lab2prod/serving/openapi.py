"""The OpenAPI spec of a scoring service as it really is: 3.0 schemas, the real error bodies.

BentoML declares OpenAPI 3.0 but emits pydantic's JSON Schema 2020-12 (``examples``, numeric
``exclusiveMinimum``), and documents a ``detail`` string where its own validation errors give a
list: a client generated from the spec, or a schema checker (schemathesis), would trip on both.

- :class:`OpenAPI30Model`: a BentoML IO model whose components are in the 3.0 dialect.
- :class:`ContractService`: ``bentoml.Service`` whose scoring routes document every error status
  with :class:`ErrorBody`, the shape each 4xx has.
"""

from __future__ import annotations

from typing import Any, ClassVar

import bentoml
from pydantic import BaseModel, Field

from lab2prod.serving import internals

__all__ = [
    "ContractService",
    "ErrorBody",
    "ErrorItem",
    "OpenAPI30Model",
    "components",
    "openapi_30",
]

_REF = "#/components/schemas/{model}"
_ERROR_BODY = "ErrorBody"


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: the field's path in the request")
    msg: str = Field(description="What is wrong")
    type: str = Field(description="A stable code for programs")


class ErrorBody(BaseModel):
    """Every 4xx of a scoring route."""

    error: str
    detail: list[ErrorItem] | None = None


_ERROR_RESPONSES = {
    400: "Not a valid request: malformed JSON, a missing or wrong field, no records, too many",
    401: "Missing or wrong bearer token (only when a token is configured)",
    408: "The request body arrived too slowly",
    413: "The request body is larger than the limit",
    415: "Content-Type is not application/json",
    422: "A record breaks the data contract across fields, or cannot be represented",
    500: "An error of the service itself",
    503: "The server is overloaded; retry after the seconds in Retry-After",
}


class OpenAPI30Model:
    """Mixin of a BentoML IO model (before ``bentoml.IODescriptor`` in the bases): its OpenAPI
    components, and those of the models it nests, in the 3.0 dialect.

    Attributes:
        documents_errors: A request model whose route :class:`ContractService` documents with
            the error bodies of a scoring route.
    """

    documents_errors: ClassVar[bool] = False

    @classmethod
    def openapi_components(cls, name: str) -> dict[str, Any]:
        return components(cls)  # type: ignore[arg-type]


def components(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI components of an IO model and the models it nests, in the 3.0 dialect."""
    schema = openapi_30(model.model_json_schema(ref_template=_REF))
    defs = schema.pop("$defs", {})
    schema["title"] = model.__name__
    return {
        model.__name__: internals.openapi_schema(schema),
        **{k: internals.openapi_schema(v) for k, v in defs.items()},
    }


def openapi_30(schema: Any) -> Any:
    """A pydantic (JSON Schema 2020-12) schema in the OpenAPI 3.0 dialect BentoML declares.

    ``examples`` becomes ``example``, and a numeric ``exclusiveMinimum``/``exclusiveMaximum``
    becomes ``minimum``/``maximum`` with the boolean flag 3.0 expects (a schema checker reads a
    number there as an invalid schema).
    """
    if isinstance(schema, dict):
        out = {k: openapi_30(v) for k, v in schema.items() if k != "examples"}
        if schema.get("examples"):
            out["example"] = schema["examples"][0]
        for exclusive, inclusive in (
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ):
            bound = schema.get(exclusive)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                out[inclusive], out[exclusive] = bound, True
        return out
    if isinstance(schema, list):
        return [openapi_30(v) for v in schema]
    return schema


class ContractService(bentoml.Service):
    """``bentoml.Service`` whose OpenAPI spec documents the scoring routes' real error bodies.

    BentoML documents a ``detail`` string where its own validation errors give a list; a
    client generated from the spec, or a schema checker (schemathesis), would trip on it. Use
    with ``@bentoml.service(service_class=ContractService)``.
    """

    @property
    def openapi_spec(self) -> Any:
        spec = super().openapi_spec
        schemas = spec.components["schemas"]
        for model in (ErrorItem, ErrorBody):
            schema = model.model_json_schema(ref_template=_REF)
            schema.pop("$defs", None)
            schemas[model.__name__] = internals.openapi_schema(openapi_30(schema))
        ref = _REF.format(model=_ERROR_BODY)
        for api in self.apis.values():
            if not getattr(api.input_spec, "documents_errors", False):
                continue
            post = spec.paths[api.route].post
            post["responses"] = {
                200: post["responses"][200],
                **{
                    status: internals.openapi_json_response(text, ref)
                    for status, text in _ERROR_RESPONSES.items()
                },
            }
            example = (api.input_spec.model_config.get("json_schema_extra") or {}).get("example")
            if example is not None:
                content = post["requestBody"]["content"]["application/json"]
                post["requestBody"]["content"]["application/json"] = internals.openapi_json_body(
                    content.schema, example=example
                )
            post["requestBody"]["required"] = True
        return spec
