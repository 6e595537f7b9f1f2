"""Closed-loop HTTP load: N keep-alive connections, each sending the next request as soon as the
last one is answered, for a fixed time. Prints one JSON line of results.

Run as its own process by ``bench.py`` (the load must not share the server's interpreter). It
speaks just enough HTTP/1.1 over asyncio streams to stay cheap: a Python HTTP client would spend
more CPU per request than the servers under test, on the same two cores.

    python load.py --url http://127.0.0.1:3000/predict --bodies bodies.jsonl \
        --concurrency 32 --duration 20 [--warmup 2] [--header 'Authorization: Bearer x']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit


def _request(host: str, port: int, path: str, body: bytes, headers: list[str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _worker(
    url: str, requests: list[bytes], offset: int, stop_at: float, record_from: float, out: dict
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    i = offset
    try:
        while (now := time.perf_counter()) < stop_at:
            payload = requests[i % len(requests)]
            i += 1
            start = now
            try:
                writer.write(payload)
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                out["statuses"][type(exc).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                continue
            end = time.perf_counter()
            if start >= record_from:
                out["latencies"].append(end - start)
                out["statuses"][str(status)] += 1
    finally:
        writer.close()


async def run(
    url: str, bodies: list[bytes], concurrency: int, duration: float, warmup: float, headers
) -> dict:
    parts = urlsplit(url)
    requests = [_request(parts.hostname, parts.port, parts.path, b, headers) for b in bodies]
    out: dict = {"latencies": [], "statuses": Counter()}
    begin = time.perf_counter()
    record_from = begin + warmup
    stop_at = record_from + duration
    await asyncio.gather(
        *(_worker(url, requests, k * 7919, stop_at, record_from, out) for k in range(concurrency))
    )
    latencies = sorted(out["latencies"])
    ok = out["statuses"].get("200", 0)
    total = sum(out["statuses"].values())
    return {
        "concurrency": concurrency,
        "duration_s": duration,
        "requests": total,
        "ok": ok,
        "errors": total - ok,
        "statuses": dict(out["statuses"]),
        "rps": ok / duration,
        **_quantiles(latencies),
    }


def _quantiles(latencies: list[float]) -> dict[str, float | None]:
    if len(latencies) < 2:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": 1e3 * cuts[49],
        "p90_ms": 1e3 * cuts[89],
        "p99_ms": 1e3 * cuts[98],
        "max_ms": 1e3 * latencies[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="one JSON body per line")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--header", action="append", default=[])
    args = parser.parse_args()
    bodies = [line.encode() for line in args.bodies.read_text().splitlines() if line]
    result = asyncio.run(
        run(args.url, bodies, args.concurrency, args.duration, args.warmup, args.header)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
