"""Faults on a real ``bentoml serve``: a worker killed, a rollout's SIGTERM, slow and oversized
requests, a storm past capacity. Each under load, each with what a client would see."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from fraud_detection.request import EXAMPLE_TRANSACTION
from tests.conftest import ROOT, stop_process_group
from tests.serving.conftest import PackagedModel
from tests.serving.server import BENTOML, SERVICE, bentoml_serve, free_port, serving_env
from tests.serving.traffic import (
    closed_loop,
    read_response,
    request,
    send_raw,
    server_pid,
    slowloris,
    workers_of,
)

pytestmark = pytest.mark.slow

READ_TIMEOUT = 2
MAX_IN_FLIGHT = 4
MAX_BODY_BYTES = 64 * 1024
SETTINGS = {
    "FRAUD_DETECTION_READ_TIMEOUT": str(READ_TIMEOUT),
    "FRAUD_DETECTION_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
    "FRAUD_DETECTION_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
}
DEPLOYMENT = ROOT / "deploy" / "kubernetes" / "deployment.yaml"


def body(n: int = 1, start: int = 0) -> bytes:
    records = [{**EXAMPLE_TRANSACTION, "transaction_id": f"tx{start + i:010d}"} for i in range(n)]
    return json.dumps({"transactions": records}).encode()


SINGLES = [body(1, i) for i in range(64)]
BATCH = body(200)  # ~100 KB: over the 64 KiB limit of these tests
SMALL_BATCHES = [body(50, 1000 * i) for i in range(8)]


@pytest.fixture(scope="module")
def server(packaged_model: PackagedModel, tmp_path_factory) -> Iterator[str]:
    """The service from source, with short limits."""
    log = tmp_path_factory.mktemp("faults") / "bentoml.log"
    with bentoml_serve(SERVICE, home=packaged_model.home, cwd=ROOT, log=log, env=SETTINGS) as url:
        yield url


def test_slow_clients_and_oversized_bodies_tie_up_nothing_and_good_traffic_keeps_its_p99(server):
    """Slowloris heads are cut off after the read timeout (and come back, 40 at a time), slow
    bodies get a 408, oversized ones a 413 before they are read; meanwhile good traffic's p99
    stays within 2x of its own."""

    async def scenario():
        alone = await closed_loop(server, SINGLES, concurrency=4, seconds=4)
        stop_at = time.monotonic() + 6.5
        attackers = [asyncio.ensure_future(slowloris(server, stop_at)) for _ in range(40)]
        declared = request(server, b"x" * (MAX_BODY_BYTES + 1))
        oversized = [asyncio.ensure_future(send_raw(server, declared)) for _ in range(8)]
        slow_body = asyncio.ensure_future(send_raw(server, request(server, body(1)), trickle=0.5))
        await asyncio.sleep(0.5)  # the attack under way
        attacked = await closed_loop(server, SINGLES, concurrency=4, seconds=4)
        return (
            alone,
            attacked,
            await asyncio.gather(*attackers),
            await asyncio.gather(*oversized),
            await slow_body,
        )

    alone, attacked, lasted, refused, (slow_status, slow_headers, slow_seconds) = asyncio.run(
        scenario()
    )

    assert alone.statuses() == {200: len(alone.outcomes)}
    assert attacked.statuses() == {200: len(attacked.outcomes)}
    # 2x the p99 alone, with 25 ms of grace for the timer noise of a shared machine.
    assert attacked.p99() <= 2 * max(alone.p99(), 0.025), (alone.p99(), attacked.p99())
    held = [seconds for attacker in lasted for seconds in attacker]
    assert len(held) >= 40  # every attacker was cut off at least once
    assert max(held) <= READ_TIMEOUT + 1.0, max(held)
    assert [(status, headers["connection"]) for status, headers, _ in refused] == [
        (413, "close")
    ] * 8
    assert max(seconds for _, _, seconds in refused) < 1.0  # refused on its declared length
    assert slow_status == 408 and slow_headers["connection"] == "close"
    assert READ_TIMEOUT - 0.5 <= slow_seconds <= READ_TIMEOUT + 1.5


def test_an_oversized_body_of_unknown_length_is_refused_once_past_the_limit(server):
    """A chunked body is counted as it arrives: past the limit, 413, without the rest."""

    async def chunked() -> tuple[int, dict]:
        host, port = server.rsplit("/", 1)[-1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 16384
        answer = asyncio.ensure_future(read_response(reader))
        for _ in range(64):  # up to 1 MiB, 16x the limit
            if answer.done():
                break
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()
            await asyncio.sleep(0.01)
        status, headers, _ = await asyncio.wait_for(answer, 10)
        writer.close()
        return status, headers

    status, headers = asyncio.run(chunked())
    assert status == 413 and headers["connection"] == "close"


def test_a_storm_past_capacity_is_shed_with_503_and_retry_after_then_recovers(server):
    """128 clients sending 50-transaction requests against 4 admitted per worker: the surplus
    gets an immediate 503 with Retry-After, nothing waits near the 30 s timeout, no other
    error; the moment the storm stops, a request is answered normally."""
    storm = asyncio.run(closed_loop(server, SMALL_BATCHES, concurrency=128, seconds=6))
    after = time.monotonic()
    recovered = httpx.post(
        f"{server}/predict", content=SINGLES[0], headers={"Content-Type": "application/json"}
    )
    recovery = time.monotonic() - after

    statuses = storm.statuses()
    assert set(statuses) == {200, 503}, statuses
    assert statuses[503] > statuses[200] > 0
    shed = [o for o in storm.outcomes if o.status == 503]
    assert all(o.headers.get("retry-after") == "1" for o in shed)
    assert max(o.latency for o in shed) < 2.0  # refused at once, not queued first
    assert max(o.latency for o in storm.outcomes) < 10.0  # nothing piles up toward 30 s
    assert recovered.status_code == 200 and recovery < 2.0
    metrics = httpx.get(f"{server}/metrics").text
    assert 'fraud_detection_rejected_requests_total{reason="overloaded"}' in metrics


def test_a_worker_killed_under_load_is_replaced_and_only_its_requests_fail(server):
    """SIGKILL one of two workers under load: the failures are the dead worker's connections
    (one request each at most), the other worker serves on, /readyz answers 200 throughout,
    and a new worker takes the dead one's place."""
    pid = server_pid(server)
    before = workers_of(pid)
    assert len(before) >= 2, "the service runs a worker per core: this test needs two cores"
    victim = before[0]
    killed_at: list[float] = []
    readyz: list[int] = []

    def kill() -> None:
        killed_at.append(time.monotonic())
        victim.send_signal(signal.SIGKILL)
        for _ in range(10):  # fresh connections: whichever worker takes them must answer
            readyz.append(httpx.get(f"{server}/readyz", timeout=5).status_code)
            time.sleep(0.2)

    concurrency = MAX_IN_FLIGHT  # all on the surviving worker are still admitted
    load = asyncio.run(
        closed_loop(server, SINGLES, concurrency=concurrency, seconds=8, during=kill, at=2)
    )

    failed = [o for o in load.outcomes if o.error is not None or o.status != 200]
    assert all(o.error in ("ConnectionResetError", "IncompleteReadError") for o in failed), failed
    assert len(failed) <= concurrency  # at most one per connection the dead worker held
    served_after = [o for o in load.outcomes if o.status == 200 and o.started > killed_at[0] + 1]
    assert len(served_after) > 50
    assert readyz == [200] * 10
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = workers_of(pid)
        if len(now) == len(before) and victim.pid not in {p.pid for p in now}:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the killed worker was not replaced: {workers_of(pid)}")
    response = httpx.post(
        f"{server}/predict", content=SINGLES[1], headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200


def _grace_seconds() -> float:
    """What the manifests leave the server to stop in: the pod's grace period less the
    preStop pause (the kubelet sends SIGTERM after it)."""
    pod = yaml.safe_load(DEPLOYMENT.read_text())["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep"
    return pod["terminationGracePeriodSeconds"] - float(pause[1])


def test_sigterm_under_load_finishes_in_flight_requests_refuses_new_ones_and_exits_in_time(
    packaged_model: PackagedModel, tmp_path: Path
):
    """A rollout's SIGTERM under load: every request already sent is answered 200, new
    connections are refused at once (never left hanging), and the server exits within the
    grace period the Kubernetes manifests give it."""
    grace = _grace_seconds()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "bentoml.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BENTOML), "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=serving_env(packaged_model.home),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.25)
        signalled: list[float] = []
        new_connections: list[tuple[str, float]] = []

        def terminate() -> None:
            signalled.append(time.monotonic())
            os.kill(process.pid, signal.SIGTERM)
            time.sleep(0.5)
            for _ in range(5):
                started = time.monotonic()
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                        sock.sendall(request(url, SINGLES[0], close=True))
                        sock.settimeout(5)
                        answer = sock.recv(64)
                        outcome = answer.split(b" ", 2)[1].decode() if answer else "closed"
                except ConnectionRefusedError:
                    outcome = "refused"
                except ConnectionResetError:
                    outcome = "reset"
                except TimeoutError:
                    outcome = "hung"
                new_connections.append((outcome, time.monotonic() - started))
                time.sleep(0.2)

        load = asyncio.run(
            closed_loop(url, SMALL_BATCHES, concurrency=8, seconds=6, during=terminate, at=2)
        )
        process.wait(timeout=grace + 5)
        exited_after = time.monotonic() - signalled[0]
    finally:
        stop_process_group(process)

    in_flight = [o for o in load.outcomes if o.started < signalled[0]]
    assert in_flight and all(o.status == 200 for o in in_flight), in_flight[-10:]
    later = [o for o in load.outcomes if o.started >= signalled[0]]
    assert all(o.status == 200 or o.error is not None for o in later)
    assert all(outcome in ("refused", "reset", "closed") for outcome, _ in new_connections), (
        new_connections
    )
    assert max(seconds for _, seconds in new_connections) < 1.0
    assert exited_after < grace, (exited_after, grace)
    assert process.returncode is not None
