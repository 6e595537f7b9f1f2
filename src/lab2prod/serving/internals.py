"""Every use lab2prod makes of BentoML's private API (``bentoml._internal``), in one place,
and of the private parts of uvicorn, the HTTP server BentoML runs each worker on.

BentoML's public API has no way to do these: read the effective worker count, build OpenAPI
objects, teach adaptive batching a new input type, let a request that fills a batch by itself
skip the batching queue, name the logger of refused requests, time out a request head that
never ends. A minor release may move any of them. Each is imported
inside the function that needs it, so importing this module (or the serving modules that use
it) never fails on a release that moved one: the function using it does, by name.
``tests/lab2prod/serving/test_internals.py`` pins the versions these were written for to the
ones ``bentofile.yaml`` packs, and exercises each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

BENTOML_VERSION = "1.4.40"
"""The BentoML release every function here was checked against (``bentofile.yaml`` pins it)."""
UVICORN_VERSION = "0.54.0"
"""The uvicorn release :func:`limit_request_head_time` was checked against (pinned alike)."""

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


def score_full_inputs_at_once(min_share: float = 0.5) -> None:
    """Let an input of adaptive batching that fills ``min_share`` of its API's
    ``max_batch_size`` by itself be scored at once, instead of queued for more (in-process,
    every batchable API; idempotent, a second call changes the share).

    BentoML's dispatcher waits, before it scores, for as long as batches waited lately: a wait
    it learns from the traffic, over the requests (not the items) it merged. After minutes of
    one-record requests at high concurrency it waits several milliseconds each time; a request
    of 1,000 records then waits as long, for company it has no room for, and 1,000-record
    requests came out at 33-40% of the in-process rate where a fresh server gave 73%
    (docs/benchmarks.md). Such an input goes straight to the API's function, as a batch of one,
    beside any batch the dispatcher is scoring; the dispatcher's queue, and what it learns, see
    only the small ones.

    Raises:
        ValueError: If ``min_share`` is not in (0, 1].
    """
    from bentoml._internal.marshal.dispatcher import CorkDispatcher
    from bentoml._internal.utils import is_async_callable
    from starlette.concurrency import run_in_threadpool

    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], not {min_share}")
    already = getattr(CorkDispatcher, "_lab2prod_min_share", None) is not None
    CorkDispatcher._lab2prod_min_share = min_share
    if already:
        return
    corked = CorkDispatcher.__call__

    def __call__(self: Any, callback: Callable[..., Any]) -> Callable[[Any], Any]:
        queued = corked(self, callback)

        async def call(data: Any) -> Any:
            try:
                size = self.get_batch_size(data)
            except Exception:  # what the dispatcher does with a size it cannot read
                size = 1
            if size < CorkDispatcher._lab2prod_min_share * self.max_batch_size:
                return await queued(data)
            if is_async_callable(callback):  # as the dispatcher calls it, with one input
                (result,) = await callback((data,))
            else:
                (result,) = await run_in_threadpool(callback, (data,))
            return result

        return call

    CorkDispatcher.__call__ = __call__


def limit_request_head_time(seconds: float) -> None:
    """Close any connection whose request line and headers take longer than ``seconds`` to
    arrive, counted from the connection's start or the request's first byte.

    uvicorn has no such timeout: a client trickling its headers a byte at a time (slowloris)
    holds its connection forever, and enough of them exhaust the worker's sockets. This sets
    one on uvicorn's httptools protocol (the one uvicorn picks with httptools installed), in
    this process; idempotent (a second call changes the time).

    Raises:
        ValueError: If ``seconds`` is not positive.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as protocol

    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    already = getattr(protocol, "_lab2prod_head_timeout", None) is not None
    protocol._lab2prod_head_timeout = seconds
    if already:
        return
    made, begin = protocol.connection_made, protocol.on_message_begin
    complete, lost = protocol.on_headers_complete, protocol.connection_lost

    def arm(self: Any) -> None:
        if getattr(self, "_lab2prod_head_timer", None) is None:
            self._lab2prod_head_timer = self.loop.call_later(
                protocol._lab2prod_head_timeout, expire, self
            )

    def disarm(self: Any) -> None:
        timer = getattr(self, "_lab2prod_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._lab2prod_head_timer = None

    def expire(self: Any) -> None:
        self._lab2prod_head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self: Any, transport: Any) -> None:
        made(self, transport)
        arm(self)

    def on_message_begin(self: Any) -> None:
        begin(self)
        arm(self)

    def on_headers_complete(self: Any) -> None:
        disarm(self)
        complete(self)

    def connection_lost(self: Any, exc: Exception | None) -> None:
        disarm(self)
        lost(self, exc)

    protocol.connection_made = connection_made
    protocol.on_message_begin = on_message_begin
    protocol.on_headers_complete = on_headers_complete
    protocol.connection_lost = connection_lost
