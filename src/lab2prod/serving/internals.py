"""Every use lab2prod makes of BentoML's private API (``bentoml._internal``), in one place.

BentoML's public API has no way to do these: read the effective worker count, build OpenAPI
objects, teach adaptive batching a new input type, name the logger of refused requests. A minor
release may move any of them. Each is imported inside the function that needs it, so importing
this module (or the serving modules that use it) never fails on a BentoML that moved one: the
function using it does, by name. ``tests/lab2prod/serving/test_internals.py`` pins the BentoML
version these were written for to the one ``bentofile.yaml`` packs, and exercises each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

BENTOML_VERSION = "1.4.40"
"""The BentoML release every function here was checked against (``bentofile.yaml`` pins it)."""

HTTP_APP_LOGGER = "bentoml._internal.server.http_app"
"""The logger BentoML reports each failed request on (with its traceback)."""


def configured_workers(service: Any) -> int | str:
    """The worker count ``bentoml serve`` starts for ``service``: its ``workers=`` as
    overridden by ``BENTOML_CONFIG``, an integer or ``"cpu_count"``."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    services = BentoMLContainer.config.services
    try:
        config = services[service.name].get()
    except KeyError:  # outside `bentoml serve`, nothing loaded the configuration yet
        service.inject_config()
        config = services[service.name].get()
    return (config or {}).get("workers") or service.config.get("workers") or 1


def openapi_schema(schema: dict[str, Any]) -> Any:
    """An OpenAPI ``Schema`` object of BentoML's spec, from its JSON form."""
    from bentoml._internal.service.openapi.specification import Schema

    return Schema(**schema)


def openapi_json_body(schema: Any, *, example: Any = None) -> Any:
    """An ``application/json`` media type: ``schema`` (a Schema or Reference), and an example."""
    from bentoml._internal.service.openapi.specification import MediaType

    return (
        MediaType(schema=schema) if example is None else MediaType(schema=schema, example=example)
    )


def openapi_json_response(description: str, ref: str) -> Any:
    """A response whose ``application/json`` body is the schema at ``ref``."""
    from bentoml._internal.service.openapi.specification import MediaType, Reference, Response

    return Response(
        description=description, content={"application/json": MediaType(schema=Reference(ref))}
    )


def register_data_container(
    batch_type: type,
    *,
    merge: Callable[[Sequence[Any]], tuple[Any, list[int]]],
    split: Callable[[Any, Sequence[int]], list[Any]],
    size: Callable[[Any], int],
) -> None:
    """Teach BentoML's adaptive batching to merge inputs of ``batch_type`` (in-process only).

    BentoML picks how to merge a batchable API's inputs by their type, from its registry of
    data containers (lists, numpy arrays, DataFrames, ...). Idempotent.

    Args:
        batch_type: The input type.
        merge: Inputs to one batch, and the offsets where each input's share starts (and, last,
            where the batch ends).
        split: A batch's outputs cut back at those offsets, one share per input.
        size: The number of items of one input.
    """
    from bentoml._internal.runner.container import DataContainer, DataContainerRegistry

    class _Container(DataContainer[batch_type, batch_type]):  # type: ignore[valid-type]
        @classmethod
        def batches_to_batch(
            cls, batches: Sequence[Any], batch_dim: int = 0
        ) -> tuple[Any, list[int]]:
            return merge(batches)

        @classmethod
        def batch_to_batches(
            cls, batch: Any, indices: Sequence[int], batch_dim: int = 0
        ) -> list[Any]:
            return split(batch, indices)

        @classmethod
        def get_batch_size(cls, batch: Any, batch_dim: int) -> int:
            return size(batch)

        @classmethod
        def to_payload(cls, batch: Any, batch_dim: int) -> Any:
            raise NotImplementedError(f"A {batch_type.__name__} stays in the process that built it")

        @classmethod
        def from_payload(cls, payload: Any) -> Any:
            raise NotImplementedError(f"A {batch_type.__name__} stays in the process that built it")

    _Container.__name__ = _Container.__qualname__ = f"{batch_type.__name__}Container"
    DataContainerRegistry.register_container(batch_type, batch_type, _Container)
