"""Load for the fault tests and benchmark: closed-loop HTTP/1.1 clients on raw sockets, every
outcome kept; slow and raw clients; the processes of a ``bentoml serve``.

Shared by ``tests/serving/test_faults.py`` and ``benchmarks/serving/faults.py``.

Raw asyncio streams, not an HTTP client library: a library would cost more CPU per request than
the server under test on the same two cores, and would hide what the server did to a
connection (reset it, closed it, left it hanging) behind its own retries and pools.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil


@dataclass(frozen=True)
class Outcome:
    """One request: when it started and ended (monotonic seconds), and its status or error."""

    started: float
    ended: float
    status: int | None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass
class Load:
    """What a run of :func:`closed_loop` saw."""

    outcomes: list[Outcome]

    def statuses(self) -> Counter:
        return Counter(o.status if o.error is None else o.error for o in self.outcomes)

    def p99(self, status: int = 200) -> float:
        latencies = [o.latency for o in self.outcomes if o.status == status]
        return statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else 0.0


def request(url: str, body: bytes, *, path: str = "/predict", close: bool = False) -> bytes:
    parts = urlsplit(url)
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.hostname}:{parts.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one response."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                break
    return status, headers, body


async def _client(
    url: str, bodies: Sequence[bytes], offset: int, stop_at: float, out: list[Outcome]
) -> None:
    parts = urlsplit(url)
    reader = writer = None
    i = offset
    while (now := time.monotonic()) < stop_at:
        payload = request(url, bodies[i % len(bodies)])
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            writer.write(payload)
            status, headers, _ = await asyncio.wait_for(read_response(reader), 60)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            out.append(Outcome(now, time.monotonic(), None, type(exc).__name__))
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)  # a refused connection is retried, not spun on
            continue
        out.append(Outcome(now, time.monotonic(), status, None, headers))
        if headers.get("connection", "").lower() == "close":
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def closed_loop(
    url: str,
    bodies: Sequence[bytes],
    *,
    concurrency: int,
    seconds: float,
    during: Callable[[], object] | None = None,
    at: float = 0.0,
) -> Load:
    """``concurrency`` keep-alive clients, each sending its next request (the next of
    ``bodies``) once the last is answered, for ``seconds``; ``during`` is called ``at`` seconds
    in (in a thread: it may block), while the load goes on."""
    out: list[Outcome] = []
    stop_at = time.monotonic() + seconds
    tasks = [
        asyncio.ensure_future(_client(url, bodies, k * 7, stop_at, out)) for k in range(concurrency)
    ]
    if during is not None:
        await asyncio.sleep(at)
        await asyncio.to_thread(during)
    await asyncio.gather(*tasks)
    return Load(sorted(out, key=lambda o: o.started))


def workers_of(pid: int) -> list[psutil.Process]:
    """The live worker processes of the ``bentoml serve`` process ``pid`` (a killed one not yet
    reaped is a zombie: not counted)."""
    workers = []
    for process in psutil.Process(pid).children(recursive=True):
        try:
            if "_bentoml_impl.worker.service" in " ".join(process.cmdline()):
                workers.append(process)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return workers


def server_pid(url: str) -> int:
    """The pid of the ``bentoml serve`` process listening at ``url`` (its arbiter)."""
    port = int(url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            process = psutil.Process(conn.pid)
            while "bentoml" not in " ".join(process.cmdline()[:2]) and process.parent():
                process = process.parent()
            return process.pid
    raise AssertionError(f"nothing listens on {url}")


async def slowloris(url: str, stop_at: float) -> list[float]:
    """Until ``stop_at``: open a connection, trickle a request head one byte every 0.2 s until
    the server hangs up, again. The seconds each connection lasted (the last one, still open at
    ``stop_at``, is not counted)."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    head = f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    lasted: list[float] = []
    while time.monotonic() < stop_at:
        reader, writer = await asyncio.open_connection(host, int(port))
        started = time.monotonic()
        try:
            for char in head.encode() * 50:
                if time.monotonic() > stop_at:
                    return lasted
                writer.write(bytes([char]))
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                        break
                except TimeoutError:
                    continue
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            writer.close()
        lasted.append(time.monotonic() - started)
    return lasted


async def send_raw(url: str, data: bytes, *, trickle: float = 0.0) -> tuple[int, dict, float]:
    """Send ``data`` (whole, or a byte every ``trickle`` s after the head); the status,
    headers and seconds until the answer."""
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    started = time.monotonic()
    head, _, rest = data.partition(b"\r\n\r\n")
    try:
        writer.write(head + b"\r\n\r\n" + (b"" if trickle else rest))
        answer = asyncio.ensure_future(read_response(reader))
        for byte in rest if trickle else b"":
            if answer.done():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(trickle)
        status, headers, _ = await asyncio.wait_for(answer, 30)
        return status, headers, time.monotonic() - started
    finally:
        writer.close()
