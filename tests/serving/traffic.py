"""Load for the fault tests: closed-loop HTTP/1.1 clients on raw sockets, every outcome kept.

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
