"""Faults, measured: what clients of the service see when a worker dies, a rollout stops it, slow
or oversized requests arrive, or a storm exceeds its capacity.

Run with ``.venv/bin/python benchmarks/serving/faults.py [--reuse]`` (the model and request
bodies are ``bench.py``'s, in ``benchmarks/.work/serving``). Each fault runs on a real
``bentoml serve fraud_detection.service:FraudDetection`` as shipped (its default limits), under
closed-loop load from ``tests/serving/traffic.py`` (the fault tests' own clients):

- **SIGKILL** of one worker under load: failed requests, seconds until a new worker is up,
  ``/readyz`` meanwhile, req/s before and after;
- **SIGTERM** under load (a rollout): seconds from the signal to the server's exit, against
  the grace period of ``deploy/kubernetes/deployment.yaml``; failures among the requests sent
  before it; what new connections got;
- **slowloris and oversized bodies**: good traffic's p99 alone and during the attack (ratio,
  target <= 2x), how long the server held a slowloris connection;
- **a storm** past capacity: the share shed as 503 (all with ``Retry-After``), the slowest
  answer, seconds from the storm's end to a normal answer.

Results replace the ``serving_faults`` section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from _common import ROOT, WORK, load_note, machine, write_section  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.serving.traffic import (  # noqa: E402
    Load,
    closed_loop,
    request,
    send_raw,
    server_pid,
    slowloris,
    workers_of,
)

SERVICE = "fraud_detection.service:FraudDetection"
DEPLOYMENT = ROOT / "deploy" / "kubernetes" / "deployment.yaml"
GOOD_CONCURRENCY = 8
STORM_CONCURRENCY = 256
STORM_BATCH = 50


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep an already packaged model")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args(argv)

    project = WORK / "serving"
    home = project / "bentoml"
    env = bench.bench_env(home)
    load_before = os.getloadavg()[0]
    if not (args.reuse and (home / "models" / "fraud_detection").is_dir()):
        bench.package_model(project, home, env, args.transactions)
    tag = bench.latest_tag(home)
    _, _, records = bench.request_bodies(project)
    singles = [json.dumps({"transactions": [r]}).encode() for r in records]
    batches = [
        json.dumps({"transactions": records[i : i + STORM_BATCH]}).encode()
        for i in range(0, len(records), STORM_BATCH)
    ]

    results = {}
    with _Server(project, env, "faults") as url:
        results["slow"] = _slow_and_oversized(url, singles)
        print("slow/oversized:", results["slow"], flush=True)
        results["storm"] = _storm(url, singles, batches)
        print("storm:", results["storm"], flush=True)
        results["kill"] = _kill(url, singles)
        print("kill:", results["kill"], flush=True)
    results["term"] = _terminate(project, env, batches)
    print("term:", results["term"], flush=True)
    load_after = os.getloadavg()[0]

    body = _render(tag, results, (load_before, load_after))
    print(body)
    if not args.no_write:
        write_section("serving_faults", body)
    return 0


class _Server:
    """``bentoml serve`` of the service in a process group of its own, for a ``with`` block."""

    def __init__(self, project: Path, env: dict, name: str) -> None:
        self.port = bench.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = project / f"{name}.log"
        self.env = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        command = [str(bench.BENTOML), "serve", SERVICE, "--host", "127.0.0.1"]
        command += ["--port", str(self.port)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        bench.wait_ready(self.url, self.process, self.log)
        return self.url

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            bench.stop_server(self.process)


def _ok_rate(load: Load, start: float, end: float) -> float:
    ok = [o for o in load.outcomes if o.status == 200 and start <= o.ended < end]
    return len(ok) / max(end - start, 1e-9)


def _slow_and_oversized(url: str, singles: list[bytes]) -> dict:
    """Good traffic alone, then with 40 slowloris connections and oversized bodies alongside."""
    seconds = 12.0

    async def scenario():
        alone = await closed_loop(url, singles, concurrency=GOOD_CONCURRENCY, seconds=seconds)
        stop_at = time.monotonic() + seconds + 1
        attackers = [asyncio.ensure_future(slowloris(url, stop_at)) for _ in range(40)]
        huge = request(url, b"x" * (4 * 2**20 + 1))  # past the 4 MiB default
        oversized = [asyncio.ensure_future(send_raw(url, huge)) for _ in range(8)]
        await asyncio.sleep(0.5)
        attacked = await closed_loop(
            url, singles, concurrency=GOOD_CONCURRENCY, seconds=seconds - 0.5
        )
        return alone, attacked, await asyncio.gather(*attackers), await asyncio.gather(*oversized)

    alone, attacked, lasted, refused = asyncio.run(scenario())
    held = [s for attacker in lasted for s in attacker]
    return {
        "p99_alone_ms": 1e3 * alone.p99(),
        "p99_attacked_ms": 1e3 * attacked.p99(),
        "ratio": attacked.p99() / max(alone.p99(), 1e-9),
        "errors_attacked": sum(1 for o in attacked.outcomes if o.status != 200),
        "requests_attacked": len(attacked.outcomes),
        "slowloris_held_max_s": max(held) if held else None,
        "slowloris_cut": len(held),
        "oversized": sorted({status for status, _, _ in refused}),
        "oversized_max_s": max(s for _, _, s in refused),
    }


def _storm(url: str, singles: list[bytes], batches: list[bytes]) -> dict:
    """256 clients of 50-transaction requests for 10 s, then good traffic again at once."""
    baseline = asyncio.run(closed_loop(url, singles, concurrency=GOOD_CONCURRENCY, seconds=5))
    storm = asyncio.run(closed_loop(url, batches, concurrency=STORM_CONCURRENCY, seconds=10))
    ended = time.monotonic()
    after = asyncio.run(closed_loop(url, singles, concurrency=GOOD_CONCURRENCY, seconds=5))
    first_ok = next((o for o in after.outcomes if o.status == 200), None)
    # Recovered: the first second after the storm whose p99 is within 2x of the baseline's.
    recovered = None
    for second in range(5):
        window = [
            o.latency
            for o in after.outcomes
            if o.status == 200 and ended + second <= o.started < ended + second + 1
        ]
        if len(window) > 1 and statistics.quantiles(window, n=100)[98] <= 2 * baseline.p99():
            recovered = second + 1
            break
    statuses = storm.statuses()
    shed = [o for o in storm.outcomes if o.status == 503]
    return {
        "requests": len(storm.outcomes),
        "statuses": {str(k): v for k, v in statuses.items()},
        "shed_share": len(shed) / max(len(storm.outcomes), 1),
        "retry_after_share": sum(1 for o in shed if o.headers.get("retry-after"))
        / max(len(shed), 1),
        "max_latency_s": max(o.latency for o in storm.outcomes),
        "p99_admitted_ms": 1e3 * storm.p99(200),
        "first_ok_after_s": first_ok.ended - ended if first_ok else None,
        "recovered_within_s": recovered,
        "baseline_p99_ms": 1e3 * baseline.p99(),
    }


def _kill(url: str, singles: list[bytes]) -> dict:
    """SIGKILL one worker 4 s into 14 s of load; time until a new worker answers."""
    pid = server_pid(url)
    before = workers_of(pid)
    victim = before[0]
    marks: dict[str, float] = {}
    readyz: list[int] = []

    def kill() -> None:
        marks["killed"] = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        while time.monotonic() - marks["killed"] < 60:
            now = workers_of(pid)
            if len(now) == len(before) and victim.pid not in {p.pid for p in now}:
                marks["replaced"] = time.monotonic()
                break
            try:
                readyz.append(urllib.request.urlopen(f"{url}/readyz", timeout=5).status)
            except OSError:
                readyz.append(0)
            time.sleep(0.2)

    load = asyncio.run(
        closed_loop(url, singles, concurrency=GOOD_CONCURRENCY, seconds=14, during=kill, at=4)
    )
    killed = marks["killed"]
    failed = [o for o in load.outcomes if o.error is not None or o.status != 200]
    replaced = marks.get("replaced")
    start, end = load.outcomes[0].started, load.outcomes[-1].ended
    return {
        "workers": len(before),
        "failed": len(failed),
        "failed_kinds": sorted({o.error or str(o.status) for o in failed}),
        "requests": len(load.outcomes),
        "replaced_after_s": replaced - killed if replaced else None,
        "readyz_not_200": sum(1 for status in readyz if status != 200),
        "readyz_probes": len(readyz),
        "rps_before": _ok_rate(load, start, killed),
        "rps_after": _ok_rate(load, killed + 1, end),
    }


def _grace_seconds() -> float:
    import yaml

    pod = yaml.safe_load(DEPLOYMENT.read_text())["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    return pod["terminationGracePeriodSeconds"] - float(pause[1])


def _terminate(project: Path, env: dict, batches: list[bytes]) -> dict:
    """SIGTERM a fresh server 3 s into load; until it exits, what each client saw."""
    import socket

    server = _Server(project, env, "faults_term")
    url = server.url
    marks: dict[str, float] = {}
    connections: list[str] = []

    def terminate() -> None:
        marks["signalled"] = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)
        time.sleep(0.5)
        for _ in range(5):
            try:
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                    sock.sendall(request(url, batches[0], close=True))
                    sock.settimeout(5)
                    answer = sock.recv(64)
                    connections.append(answer.split(b" ", 2)[1].decode() if answer else "closed")
            except ConnectionRefusedError:
                connections.append("refused")
            except ConnectionResetError:
                connections.append("reset")
            except TimeoutError:
                connections.append("hung")
            time.sleep(0.2)

    with server:
        load = asyncio.run(
            closed_loop(
                url, batches, concurrency=GOOD_CONCURRENCY, seconds=8, during=terminate, at=3
            )
        )
        server.process.wait(timeout=60)
        exited = time.monotonic() - marks["signalled"]
    in_flight = [o for o in load.outcomes if o.started < marks["signalled"]]
    return {
        "exit_after_s": exited,
        "grace_s": _grace_seconds(),
        "in_flight": len(in_flight),
        "in_flight_failed": sum(1 for o in in_flight if o.status != 200),
        "new_connections": connections,
    }


def _render(tag: str, results: dict, load: tuple[float, float]) -> str:
    slow, storm, kill, term = (results[k] for k in ("slow", "storm", "kill", "term"))
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(storm["statuses"].items()))
    lines = [
        "## Serving faults",
        "",
        f"`benchmarks/serving/faults.py`, {dt.date.today().isoformat()}, {machine()}.",
        load_note(*load),
        f"Model `{tag}`; `bentoml serve` of the service as shipped (its default limits: 64",
        "requests in flight per worker, 4 MiB bodies, 10 s to send a head or a body). Good",
        f"traffic: {GOOD_CONCURRENCY} closed-loop clients of one transaction per request",
        "(tests/serving/traffic.py).",
        "",
        "| fault | measured |",
        "|---|---|",
        f"| SIGKILL of one of {kill['workers']} workers under load | {kill['failed']} of "
        f"{kill['requests']:,} requests failed ({', '.join(kill['failed_kinds']) or 'none'}); "
        f"a new worker up after {_s(kill['replaced_after_s'])}; /readyz not 200 in "
        f"{kill['readyz_not_200']} of {kill['readyz_probes']} probes meanwhile; "
        f"{kill['rps_before']:,.0f} req/s before, {kill['rps_after']:,.0f} after |",
        f"| SIGTERM under load (a rollout) | exited {term['exit_after_s']:.1f} s after the "
        f"signal (grace period {term['grace_s']:.0f} s); {term['in_flight_failed']} of "
        f"{term['in_flight']:,} requests sent before it failed; new connections: "
        f"{', '.join(term['new_connections'])} |",
        f"| 40 slowloris connections + 8 bodies over the limit | good traffic's p99 "
        f"{slow['p99_alone_ms']:.0f} ms alone, {slow['p99_attacked_ms']:.0f} ms during "
        f"(x{slow['ratio']:.2f}, target <= 2x), {slow['errors_attacked']} errors; slowloris "
        f"connections cut after at most {_s(slow['slowloris_held_max_s'])} "
        f"({slow['slowloris_cut']} cut); oversized bodies answered "
        f"{', '.join(map(str, slow['oversized']))} within {slow['oversized_max_s']:.2f} s |",
        f"| storm: {STORM_CONCURRENCY} clients of {STORM_BATCH}-transaction requests, 10 s | "
        f"{storm['shed_share']:.0%} of {storm['requests']:,} shed as 503 "
        f"({storm['retry_after_share']:.0%} with Retry-After; {statuses}); admitted p99 "
        f"{storm['p99_admitted_ms']:.0f} ms, slowest answer {storm['max_latency_s']:.1f} s; "
        f"first normal answer {_s(storm['first_ok_after_s'])} after the storm, p99 back within "
        f"2x of before ({storm['baseline_p99_ms']:.0f} ms) in the "
        f"{_nth(storm['recovered_within_s'])} second |",
    ]
    return "\n".join(lines)


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f} s"


def _nth(second: int | None) -> str:
    if second is None:
        return "none of the 5 seconds measured (not recovered)"
    return {1: "first", 2: "second", 3: "third"}.get(second, f"{second}th")


if __name__ == "__main__":
    sys.exit(main())
