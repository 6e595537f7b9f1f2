"""lab2prod's uses of BentoML's private API, checked against the BentoML the bento packs."""

from __future__ import annotations

import itertools
from importlib.metadata import version
from pathlib import Path

import bentoml
import yaml

from lab2prod.serving import internals
from tests.conftest import ROOT


def test_internals_were_written_for_the_bentoml_the_bento_installs():
    """A BentoML upgrade (in uv.lock and bentofile.yaml) must revisit lab2prod.serving.internals
    first: this fails until its pinned version is updated with it."""
    packages = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    assert f"bentoml=={internals.BENTOML_VERSION}" in packages
    assert version("bentoml") == internals.BENTOML_VERSION


def test_configured_workers_reads_the_services_declaration():
    """The worker count ``bentoml serve`` would start: the service's own ``workers=``."""

    @bentoml.service(workers=3)
    class Three:
        @bentoml.api
        def echo(self, text: str) -> str:
            return text

    @bentoml.service(workers="cpu_count")
    class PerCore:
        @bentoml.api
        def echo(self, text: str) -> str:
            return text

    assert internals.configured_workers(Three) == 3
    assert internals.configured_workers(PerCore) == "cpu_count"


OVERRIDDEN = """
import bentoml
from lab2prod.serving import internals

@bentoml.service(workers="cpu_count")
class PerCore:
    @bentoml.api
    def echo(self, text: str) -> str:
        return text

print(internals.configured_workers(PerCore))
"""


def test_configured_workers_follow_a_bentoml_config_override(tmp_path):
    """``BENTOML_CONFIG`` (how an operator sets workers without touching the code) wins."""
    import os
    import subprocess
    import sys

    config = tmp_path / "bentoml.yaml"
    config.write_text("services:\n  PerCore:\n    workers: 5\n")
    out = subprocess.run(
        [sys.executable, "-c", OVERRIDDEN],
        env={**os.environ, "BENTOML_CONFIG": str(config)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[-1] == "5"


def test_openapi_objects_are_bentomls_own():
    """Schemas, bodies and responses built here are the objects BentoML's spec holds."""
    from bentoml._internal.service.openapi.specification import MediaType, Response, Schema

    schema = internals.openapi_schema({"type": "object", "title": "T"})
    body = internals.openapi_json_body(schema, example={"a": 1})
    response = internals.openapi_json_response("Bad", "#/components/schemas/ErrorBody")

    assert isinstance(schema, Schema) and schema.title == "T"
    assert isinstance(body, MediaType) and body.example == {"a": 1}
    assert isinstance(response, Response) and response.description == "Bad"
    assert response.content["application/json"].schema.ref == "#/components/schemas/ErrorBody"


def test_refused_requests_are_reported_on_the_logger_lab2prod_filters():
    """BentoML's HTTP app still logs failed requests on the logger runtime.py filters."""
    import importlib

    http_app = importlib.import_module("bentoml._internal.server.http_app")
    assert http_app.logger.name == internals.HTTP_APP_LOGGER


def test_a_registered_container_merges_and_splits_its_type():
    """Adaptive batching finds the container registered for a new input type."""
    from bentoml._internal.runner.container import AutoContainer

    class Parts(list):
        pass

    internals.register_data_container(
        Parts,
        merge=lambda batches: (Parts(x for b in batches for x in b), [0, 2, 3]),
        split=lambda batch, indices: [Parts(batch[a:b]) for a, b in itertools.pairwise(indices)],
        size=len,
    )
    merged, indices = AutoContainer.batches_to_batch([Parts([1, 2]), Parts([3])], 0)
    assert list(merged) == [1, 2, 3] and indices == [0, 2, 3]
    assert AutoContainer.get_batch_size(merged, 0) == 3
    assert [list(p) for p in AutoContainer.batch_to_batches(merged, indices, 0)] == [[1, 2], [3]]


def test_the_head_timeout_was_written_for_the_uvicorn_the_bento_installs():
    """limit_request_head_time patches uvicorn's protocol: pinned like BentoML."""
    packages = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    assert f"uvicorn=={internals.UVICORN_VERSION}" in packages
    assert version("uvicorn") == internals.UVICORN_VERSION


def test_a_connection_whose_head_never_ends_is_closed_after_the_timeout():
    """On uvicorn's own protocol, over a socket pair: a head still incomplete after the timeout
    closes the connection; a head that completes in time does not."""
    import asyncio
    import socket

    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def open_and_send(data: bytes) -> bool:
        config = Config(app=app, lifespan="off")
        config.load()
        loop = asyncio.get_running_loop()
        server, client = socket.socketpair()
        transport, _protocol = await loop.connect_accepted_socket(
            lambda: HttpToolsProtocol(config, ServerState(), app_state={}), server
        )
        client.sendall(data)
        await asyncio.sleep(0.6)
        closed = transport.is_closing()
        transport.close()
        client.close()
        return closed

    internals.limit_request_head_time(0.3)
    try:
        slow = asyncio.run(open_and_send(b"POST / HTTP/1.1\r\nHost: x\r\n"))
        complete = asyncio.run(open_and_send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    finally:
        internals.limit_request_head_time(30)
    assert slow is True
    assert complete is False


def test_an_input_filling_half_a_batch_is_scored_at_once_and_smaller_ones_are_batched():
    """With a wait learned from earlier traffic (here 2 s), an input of half max_batch_size is
    scored at once as a batch of one, without entering the dispatcher's queue; smaller ones
    still go through the queue."""
    import asyncio
    import time

    from bentoml._internal.marshal.dispatcher import CorkDispatcher

    calls: list[list[int]] = []

    async def score(batches):  # as BentoML's batch function: inputs in, an output per input
        calls.append([len(batch) for batch in batches])
        return [[x * 2 for x in batch] for batch in batches]

    async def run() -> tuple[list[int], float, bool, list[list[int]], bool]:
        dispatcher = CorkDispatcher(
            max_latency_in_ms=10_000, max_batch_size=100, fallback=lambda: None, get_batch_size=len
        )
        dispatcher.optimizer.wait = 2.0  # what minutes of busy single-record traffic teach it
        started = time.monotonic()
        large = await dispatcher(score)(list(range(50)))
        seconds = time.monotonic() - started
        queued_large = dispatcher._controller is not None
        small = await asyncio.gather(*(dispatcher(score)([i]) for i in range(3)))
        queued_small = dispatcher._controller is not None
        dispatcher.shutdown()
        return large, seconds, queued_large, small, queued_small

    internals.score_full_inputs_at_once(0.5)
    large, seconds, queued_large, small, queued_small = asyncio.run(run())

    assert large == [x * 2 for x in range(50)]
    assert seconds < 0.5 and not queued_large
    assert calls[0] == [50]  # alone, a batch of one input
    assert small == [[0], [2], [4]] and queued_small


def test_no_other_module_of_lab2prod_uses_bentomls_private_api():
    """A BentoML upgrade has one module to revisit: no other module names ``bentoml._internal``
    (imported, or as a logger or module name in a string)."""
    import lab2prod

    package = Path(lab2prod.__file__).parent
    users = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if "bentoml._internal" in path.read_text(encoding="utf-8")
    )
    assert users == ["serving/internals.py"]
