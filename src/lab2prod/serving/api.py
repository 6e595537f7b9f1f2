"""What a BentoML service needs around a compiled inference pipeline.

- :func:`batch_request` / :func:`batch_response`: the ``{"<records>": [...]}`` request and
  ``{"predictions": [...], "model": tag}`` response of a scoring route, as BentoML IO models.
  Each request is validated on its own (record fields, list length, unique ids); BentoML's
  adaptive batching then merges requests into one list for the scoring function and splits its
  results back, and the response model turns each request's share into a 200 or a 422.
- :class:`BatchScorer`: one call per merged batch: records to a typed frame, the contract's
  remaining checks, the compiled pipeline.
- :func:`load_scorer`: the packaged model, checked against the code serving it, compiled once.
- :func:`limit_worker_threads`: the worker's native thread pools sized to its share of the
  cores, before the model loads.
- :class:`ContractService`: BentoML's service with the error responses of the scoring route
  documented in OpenAPI as they are.

Every refusal is a 4xx JSON body ``{"error": "...", "detail": [{"loc": [...], "msg": "...",
"type": "..."}]}`` (the shape BentoML gives pydantic errors) naming the field and the problem.
This module imports BentoML: services import it, ``kedro`` never does.
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import bentoml
from pydantic import BaseModel, Field, ValidationError, create_model, field_validator
from pydantic_core import PydanticCustomError
from starlette.responses import JSONResponse, Response

from lab2prod.errors import ModelMismatchError, ServingError
from lab2prod.serving import batching
from lab2prod.serving.batching import ColumnBatch
from lab2prod.serving.columnar import ColumnarReader
from lab2prod.serving.frames import ContractBatch, RowError
from lab2prod.serving.runtime import limit_worker_threads

if TYPE_CHECKING:
    import pandas as pd
    from starlette.requests import Request

    from lab2prod.serving.compiled import CompiledPipeline
    from lab2prod.threadpools import ThreadPoolLimit

__all__ = [
    "BatchScorer",
    "ColumnBatch",
    "ContractService",
    "RowResult",
    "batch_request",
    "batch_response",
    "env_int",
    "freeze_startup_heap",
    "limit_worker_threads",
    "load_scorer",
    "log_client_errors_briefly",
    "pinned_tag",
]

_REF = "#/components/schemas/{model}"
_ERROR_BODY = "ErrorBody"


@dataclass(slots=True)
class RowResult:
    """The outcome for one record: its prediction, or why it cannot have one.

    Not frozen: a batch makes one per record, and a frozen dataclass's ``__init__`` costs half
    again as much (0.9 against 0.6 ms for 1,000).
    """

    model: str
    prediction: Mapping[str, Any] | None = None
    errors: tuple[RowError, ...] = ()


class BatchScorer:
    """Scores a merged batch of validated records with the compiled inference pipeline.

    Args:
        compiled: The inference pipeline, compiled with the packaged model bound.
        batch: Builds the typed frame and runs the contract's remaining checks.
        tag: The model's BentoML tag, returned with every prediction.
        prediction_fields: The output columns returned for each record, in order.
        threads: The worker's native thread pool limit (:func:`limit_worker_threads`), which
            each thread that scores is held to.
    """

    def __init__(
        self,
        compiled: CompiledPipeline,
        batch: ContractBatch,
        *,
        tag: str,
        prediction_fields: Sequence[str],
        threads: ThreadPoolLimit | None = None,
    ) -> None:
        if len(compiled.inputs) != 1 or len(compiled.outputs) != 1:
            raise ValueError(
                f"A BatchScorer needs a pipeline with one input and one output, got "
                f"{compiled.inputs} -> {compiled.outputs}"
            )
        self.compiled = compiled
        self.batch = batch
        self.tag = tag
        self.prediction_fields = tuple(prediction_fields)
        self.threads = threads

    def __call__(self, records: Sequence[BaseModel] | ColumnBatch) -> list[RowResult]:
        """Score ``records``; a record that breaks the contract gets its errors instead.

        One frame and one pipeline call for the whole batch, however many requests it merges.

        Args:
            records: Validated request records, or the batch's columns (what the request
                models of :func:`batch_request` with a contract give, merged by BentoML).
        """
        if self.threads is not None:
            self.threads.enter_thread()
        if isinstance(records, ColumnBatch):
            frame, errors = self.batch.from_columns(records.columns, len(records)), []
        else:
            frame, errors = self.batch.frame(records)
        errors += self.batch.check(frame)
        if not errors:  # the common case: every record scored, in order
            return [
                RowResult(
                    self.tag, prediction=dict(zip(self.prediction_fields, values, strict=True))
                )
                for values in self._predict(frame)
            ]
        by_row: dict[int, list[RowError]] = {}
        for error in errors:
            by_row.setdefault(error.row, []).append(error)
        good = frame.drop(index=list(by_row))
        results = [RowResult(self.tag, errors=tuple(by_row.get(i, ()))) for i in range(len(frame))]
        if len(good):
            for row, values in zip(good.index, self._predict(good), strict=True):
                results[row] = RowResult(
                    self.tag, prediction=dict(zip(self.prediction_fields, values, strict=True))
                )
        return results

    def _predict(self, frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
        """The prediction fields of each row of ``frame``, as Python values."""
        (output,) = self.compiled(**{self.compiled.inputs[0]: frame}).values()
        return zip(*(output[name].tolist() for name in self.prediction_fields), strict=True)


def load_scorer(
    model: Any,
    *,
    project: str,
    request_model: type[BaseModel],
    contract: Any,
    request_input: str,
    output: str,
    prediction_fields: Sequence[str],
    threads: ThreadPoolLimit | None = None,
) -> BatchScorer:
    """Load a packaged model and compile its inference pipeline, once, at service start-up.

    Args:
        model: The BentoML model (``bentoml.models.BentoModel`` attribute of the service, or a
            tag).
        project: The Kedro project package whose registry names the pipeline.
        request_model: The pydantic model of one request record the service validates with.
        contract: The pandera contract it was derived from.
        request_input: The pipeline input a batch of requests is (``scoring_input``).
        output: The pipeline output that holds the predictions.
        prediction_fields: The output columns returned.
        threads: The worker's native thread pool limit, from :func:`limit_worker_threads`
            (called before this, so that the model's libraries load limited).

    Returns:
        The scorer.

    Raises:
        ModelMismatchError: If the model was packaged for another request schema, or the
            project registers no pipeline of the package's name.
    """
    from lab2prod.serving.compiled import compile_pipeline
    from lab2prod.serving.package import read_package

    package = read_package(model)
    tag = str(package.tag)
    served = request_model.model_json_schema()
    if package.request_schema is not None and _canonical(package.request_schema) != _canonical(
        served
    ):
        raise ModelMismatchError(
            f"Model {tag} was trained for another request than {request_model.__name__} "
            f"describes (its schema at packaging differs from the served one): the features "
            "could be computed from data the model never saw. Serve it with the code it was "
            "trained with, or retrain.",
            tag=tag,
        )
    compiled = compile_pipeline(
        project_pipeline(project, package.pipeline, tag=tag),
        inputs=[request_input],
        outputs=[output],
        data=package.data,
        parameters=package.parameters,
    )
    return BatchScorer(
        compiled,
        ContractBatch(contract),
        tag=tag,
        prediction_fields=prediction_fields,
        threads=threads,
    )


def pinned_tag(service: bentoml.Service, model: Any) -> str:
    """The tag of ``model`` (a ``BentoModel`` class attribute) to load when the service starts.

    Served from a built bento, that is the exact version the bento recorded at build time, not
    whatever ``latest`` is in the model store by then; served from source, the model's own tag.
    """
    bento = service.bento
    if bento is not None:
        for info in bento.info.services:
            if info.name != service.name:
                continue
            for built in info.models:
                if built.tag.name == model.tag.name:
                    return str(built.tag)
    return str(model.tag)


def freeze_startup_heap() -> None:
    """Exclude everything allocated so far (libraries, the model) from garbage collection.

    Call once, at the end of the service's start-up. Python's full collections otherwise scan
    the whole heap every so often, stalling requests; with the start-up objects frozen they
    scan only what requests allocate (p99 of a no-op BentoML service at concurrency 32:
    ~260 ms -> ~160 ms, measured). Objects frozen are never freed: call it only once the
    long-lived state is built.
    """
    gc.collect()
    gc.freeze()


class _BriefClientErrors(logging.Filter):
    """Turns BentoML's ERROR-with-traceback for a refused request into one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ValidationError):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.msg = (
                record.msg.replace("Exception on", "Refused") + ": 400, %d invalid field(s)"
            )
            record.args = (*(record.args or ()), exc.error_count())
            record.exc_info, record.exc_text = None, None
        return True


def log_client_errors_briefly() -> None:
    """Log each request refused with a 400 as one INFO line, not an ERROR with a traceback.

    BentoML logs every invalid request body as a server error with the full traceback: a
    client sending bad data would fill the log and cost the server CPU on every request. The
    client still gets its 400 naming each field. Call once, at the service's start-up.
    """
    serve_logger = logging.getLogger("bentoml._internal.server.http_app")
    if not any(isinstance(f, _BriefClientErrors) for f in serve_logger.filters):
        serve_logger.addFilter(_BriefClientErrors())


def project_pipeline(project: str, name: str, *, tag: str) -> Any:
    """The pipeline ``name`` of Kedro project ``project``, loaded without a session.

    Only that pipeline's package is imported (Kedro's ``set_requested``), and Kedro's logging
    set-up leaves the server's alone.
    """
    from kedro.framework.project import configure_project, pipelines

    configure_project(project, preserve_logging=True)
    pipelines.set_requested([name])
    try:
        return pipelines[name]
    except (KeyError, ImportError) as exc:
        # The project's registry raises ImportError for a requested pipeline it cannot find.
        raise ModelMismatchError(
            f"Model {tag} runs the pipeline {name!r}, which project {project!r} cannot "
            f"provide ({exc}); serve it with the code it was trained with",
            tag=tag,
        ) from exc


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """An integer setting from the environment variable ``name``, or ``default``.

    Raises:
        ServingError: If the variable is set to something else than an integer >= ``minimum``.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ServingError(f"{name}={raw!r} is not an integer >= {minimum}; unset it or fix it")
    return value


def _canonical(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


class _BatchRequest(bentoml.IODescriptor):
    """Base of the request models :func:`batch_request` makes."""

    records_field: ClassVar[str]
    on_reject: ClassVar[Callable[[str], None] | None] = None
    batch: ClassVar[ContractBatch | None] = None
    reader: ClassVar[ColumnarReader | None] = None

    @classmethod
    async def from_http_request(cls, request: Request, serde: Any) -> Any:
        if cls.batch is not None and cls.reader is not None:
            columns = cls.reader.read(await request.body())
            if columns is not None:
                length = len(next(iter(columns.values())))
                return cls.model_construct(**{cls.records_field: ColumnBatch(columns, length)})
        try:
            parsed = await super().from_http_request(request, serde)
            if cls.batch is None:
                return parsed
            records = getattr(parsed, cls.records_field)
            columns, errors = cls.batch.record_columns(records)
            if errors:
                raise _validation_error(cls.__name__, cls.records_field, errors)
        except ValidationError as exc:
            if cls.on_reject is not None:
                cls.on_reject(_rejection_reason(exc, cls.records_field))
            raise
        return cls.model_construct(**{cls.records_field: ColumnBatch(columns, len(records))})

    @classmethod
    def openapi_components(cls, name: str) -> dict[str, Any]:
        return _openapi_components(cls)


def _openapi_components(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI components of an IO model and the models it nests, in the 3.0 dialect."""
    from bentoml._internal.service.openapi.specification import Schema

    schema = _openapi_30(model.model_json_schema(ref_template=_REF))
    defs = schema.pop("$defs", {})
    schema["title"] = model.__name__
    return {model.__name__: Schema(**schema), **{k: Schema(**v) for k, v in defs.items()}}


def _validation_error(title: str, field: str, errors: list[RowError]) -> ValidationError:
    """Records the request model took but the batch cannot represent, as the 400 of a field."""
    return ValidationError.from_exception_data(
        title,
        [
            {
                "type": PydanticCustomError(error.type, error.msg),
                "loc": (field, error.row, *error.loc),
                "input": None,
            }
            for error in errors
        ],
    )


def _rejection_reason(exc: ValidationError, field: str) -> str:
    kinds = {(error["type"], tuple(error["loc"])) for error in exc.errors()}
    for kind, loc in kinds:
        if kind == "json_invalid":
            return "malformed_json"
        if loc == (field,) and kind in ("too_short", "too_long", "duplicate_value"):
            return {"too_short": "empty", "too_long": "too_many"}.get(kind, "duplicate_id")
    return "invalid_field"


def _openapi_30(schema: Any) -> Any:
    """A pydantic (JSON Schema 2020-12) schema in the OpenAPI 3.0 dialect BentoML declares.

    ``examples`` becomes ``example``, and a numeric ``exclusiveMinimum``/``exclusiveMaximum``
    becomes ``minimum``/``maximum`` with the boolean flag 3.0 expects (a schema checker reads a
    number there as an invalid schema).
    """
    if isinstance(schema, dict):
        out = {k: _openapi_30(v) for k, v in schema.items() if k != "examples"}
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
        return [_openapi_30(v) for v in schema]
    return schema


def batch_request(
    record: type[BaseModel],
    *,
    field: str,
    max_records: int,
    unique: Sequence[str] = (),
    example: Mapping[str, Any] | None = None,
    on_reject: Callable[[str], None] | None = None,
    name: str = "PredictRequest",
    contract: Any = None,
) -> type[bentoml.IODescriptor]:
    """The request model of a scoring route: ``{field: [record, ...]}``.

    With ``contract``, the route's function receives each request's records as the batch's
    columns, a :class:`ColumnBatch` (BentoML's adaptive batching concatenates them), read
    straight from the
    JSON body when the :class:`~lab2prod.serving.columnar.ColumnarReader` can prove the request
    valid, else from the records the request model validated (which then reports any error).

    Args:
        record: The pydantic model of one record (derived from the training contract).
        field: The name of the list, e.g. ``transactions``.
        max_records: The most records one request may carry.
        unique: Record fields that must not repeat within a request (the contract's unique
            columns: across requests they may, a batch merges several).
        example: One valid record, shown as the example request in the OpenAPI docs.
        on_reject: Called with the reason of each invalid request, for the metrics.
        name: The model's name in the OpenAPI docs.
        contract: The pandera contract ``record`` was derived from.

    Returns:
        A BentoML IO model: pass it as ``input_spec`` of a ``@bentoml.api``.
    """
    records_type = Annotated[list[record], Field(min_length=1, max_length=max_records)]

    def check_unique(cls: type, records: list[BaseModel]) -> list[BaseModel]:
        for column in unique:
            counts = Counter(getattr(r, column) for r in records)
            repeated = [value for value, n in counts.items() if n > 1]
            if repeated:
                raise PydanticCustomError(
                    "duplicate_value",
                    "{column} must be unique within a request; repeated: {values}",
                    {"column": column, "values": repeated[:5]},
                )
        return records

    model = create_model(
        name,
        __base__=_BatchRequest,
        __validators__={"_unique": field_validator(field)(check_unique)},
        **{field: (records_type, ...)},
    )
    model.model_config["json_schema_extra"] = (
        {"example": {field: [dict(example)]}} if example is not None else None
    )
    model.model_rebuild(force=True)
    model.records_field = field
    model.on_reject = staticmethod(on_reject) if on_reject else None
    if contract is not None:
        batching.register()
        model.batch = ContractBatch(contract)
        model.reader = ColumnarReader(record, field=field, max_records=max_records, unique=unique)
    return model


class _BatchResponse(bentoml.IODescriptor):
    """Base of the response models :func:`batch_response` makes."""

    records_field: ClassVar[str]
    observe: ClassVar[Callable[[list[Mapping[str, Any]]], None] | None] = None
    on_reject: ClassVar[Callable[[str], None] | None] = None

    @classmethod
    def openapi_components(cls, name: str) -> dict[str, Any]:
        return _openapi_components(cls)

    @classmethod
    async def to_http_response(cls, obj: Any, serde: Any) -> Response:
        rows: list[RowResult] = obj
        detail = [
            {"loc": [cls.records_field, i, *error.loc], "msg": error.msg, "type": error.type}
            for i, row in enumerate(rows)
            for error in row.errors
        ]
        if detail:
            if cls.on_reject is not None:
                kinds = {item["type"] for item in detail}
                cls.on_reject("contract_check" if "contract_check" in kinds else "invalid_field")
            failing = len({item["loc"][1] for item in detail})
            return JSONResponse(
                {
                    "error": f"{failing} of {len(rows)} record(s) cannot be scored",
                    "detail": detail,
                },
                status_code=422,
            )
        predictions = [row.prediction for row in rows]
        if cls.observe is not None:
            cls.observe(predictions)
        body = json.dumps({"predictions": predictions, "model": rows[0].model if rows else None})
        return Response(body, media_type="application/json")


def batch_response(
    prediction: type[BaseModel],
    *,
    records_field: str,
    observe: Callable[[list[Mapping[str, Any]]], None] | None = None,
    on_reject: Callable[[str], None] | None = None,
    name: str = "PredictResponse",
) -> type[bentoml.IODescriptor]:
    """The response model of a scoring route: ``{"predictions": [...], "model": tag}``.

    The scoring function returns a :class:`RowResult` per record; BentoML hands each request
    its share, which this model answers with a 200, or with a 422 naming every record that
    broke the contract.

    Args:
        prediction: The pydantic model of one prediction (documentation).
        records_field: The request's list field, used in error locations.
        observe: Called with each 200's predictions, for the metrics.
        on_reject: Called with the reason of each 422, for the metrics.
        name: The model's name in the OpenAPI docs.
    """
    model = create_model(
        name,
        __base__=_BatchResponse,
        predictions=(list[prediction], ...),
        model=(str, Field(description="The BentoML tag of the model that scored")),
    )
    model.records_field = records_field
    model.observe = staticmethod(observe) if observe else None
    model.on_reject = staticmethod(on_reject) if on_reject else None
    return model


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
    415: "Content-Type is not application/json",
    422: "A record breaks the data contract across fields, or cannot be represented",
    500: "An error of the service itself",
    503: "The server is overloaded; retry later",
}


class ContractService(bentoml.Service):
    """``bentoml.Service`` whose OpenAPI spec documents the scoring routes' real error bodies.

    BentoML documents a ``detail`` string where its own validation errors give a list; a
    client generated from the spec, or a schema checker (schemathesis), would trip on it. Use
    with ``@bentoml.service(service_class=ContractService)``.
    """

    @property
    def openapi_spec(self) -> Any:
        from bentoml._internal.service.openapi.specification import (
            MediaType,
            Reference,
            Schema,
        )
        from bentoml._internal.service.openapi.specification import Response as ApiResponse

        spec = super().openapi_spec
        schemas = spec.components["schemas"]
        for model in (ErrorItem, ErrorBody):
            schema = model.model_json_schema(ref_template=_REF)
            schema.pop("$defs", None)
            schemas[model.__name__] = Schema(**_openapi_30(schema))
        ref = Reference(_REF.format(model=_ERROR_BODY))
        for api in self.apis.values():
            if not issubclass(api.input_spec, _BatchRequest):
                continue
            post = spec.paths[api.route].post
            post["responses"] = {
                200: post["responses"][200],
                **{
                    status: ApiResponse(
                        description=text,
                        content={"application/json": MediaType(schema=ref)},
                    )
                    for status, text in _ERROR_RESPONSES.items()
                },
            }
            example = (api.input_spec.model_config.get("json_schema_extra") or {}).get("example")
            if example is not None:
                content = post["requestBody"]["content"]["application/json"]
                post["requestBody"]["content"]["application/json"] = MediaType(
                    schema=content.schema, example=example
                )
            post["requestBody"]["required"] = True
        return spec
