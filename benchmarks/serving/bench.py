"""Serving: the BentoML service against a hand-written FastAPI app and the in-process pipeline.

Run with ``.venv/bin/python benchmarks/serving/bench.py [--transactions N] [--duration S]``.
In a scratch project (``benchmarks/.work/serving``, its own BentoML home) ``kedro run`` trains and
packages a model; then, in the same run and on loopback only:

- the ceiling: the compiled inference pipeline called in-process on DataFrames;
- the hand-written baseline: ``fastapi_app.py`` under uvicorn (one process, as written);
- the BentoML service (``fraud_detection.service``), in each configuration of ``VARIANTS``.

Each server gets single-transaction requests at concurrency 1, 8 and 32, then 1,000-transaction
batches, from ``load.py`` in a separate process, ``--duration`` seconds each after a warm-up.
Results replace the ``serving`` section of ``docs/benchmarks.md``. Targets at concurrency 32:
>= 3x the FastAPI baseline's req/s, p99 <= 100 ms, zero errors; batches >= 50% of in-process
rows/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import KEDRO, ROOT, WORK, machine, scratch_project, write_section  # noqa: E402

PYTHON = Path(sys.executable)
BENTOML = PYTHON.with_name("bentoml")
UVICORN = PYTHON.with_name("uvicorn")
CONCURRENCIES = (1, 8, 32)
BATCH_ROWS = 1000
# One client (each request waits for the last), and two per core (the next request is parsed
# while the last is scored).
BATCH_CONCURRENCIES = (1, 4)


@dataclass(frozen=True)
class Variant:
    """One BentoML configuration (a ``BENTOML_CONFIG`` file) and why it is measured."""

    name: str
    note: str
    config: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)


VARIANTS = (
    Variant(
        "bentoml: tracing + access log (BentoML defaults)",
        "per-request OpenTelemetry spans and access log line, as BentoML ships them",
        {"tracing": {"excluded_urls": []}, "logging": {"access": {"enabled": True}}, "workers": 1},
    ),
    Variant(
        "bentoml: no tracing on /predict",
        "OpenTelemetry left out of /predict (no exporter is configured anyway)",
        {"logging": {"access": {"enabled": True}}, "workers": 1},
    ),
    Variant("bentoml: + no access log, 1 worker", "service.py, one worker", {"workers": 1}),
    Variant("bentoml: as shipped (a worker per core)", "service.py as committed", {}),
)

CEILING = """
import json, sys, time
import pandas as pd
from threadpoolctl import threadpool_limits
from fraud_detection.request import TransactionRequest
from fraud_detection.schemas import ScoringRequest
from fraud_detection.pipelines.inference import create_pipeline
from lab2prod.serving import compile_pipeline, read_package
from lab2prod.serving.api import ColumnBatch, batch_request, load_scorer

tag, path = sys.argv[1], sys.argv[2]
frame = pd.read_parquet(path)
package = read_package(tag)
compiled = compile_pipeline(create_pipeline(), inputs=["scoring_input"], outputs=["predictions"],
                            data=package.data, parameters=package.parameters)
scorer = load_scorer(tag, project="fraud_detection", request_model=TransactionRequest,
                     contract=ScoringRequest, request_input="scoring_input", output="predictions",
                     prediction_fields=["transaction_id", "fraud_probability", "is_fraud"])

def rate(fn, seconds=5.0):
    fn(); n = 0; start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(); n += 1
    return n / (time.perf_counter() - start)

with threadpool_limits(1, user_api="openmp"):
    one = frame.iloc[:1]
    batch = frame.iloc[:1000]
    first = open(sys.argv[3]).readline().encode()
    request = batch_request(TransactionRequest, contract=ScoringRequest, field="transactions",
                            max_records=1000, unique=["transaction_id"])

    def request_model_path():
        records = request.model_validate_json(first).transactions
        return scorer(ColumnBatch(request.batch.record_columns(records)[0], len(records)))

    def columnar_path():
        return scorer(ColumnBatch(request.reader.read(first), 1000))

    print(json.dumps({
        "single_calls_per_s": rate(lambda: compiled(scoring_input=one)),
        "batch_rows_per_s": 1000 * rate(lambda: compiled(scoring_input=batch)),
        "request_model_batch_rows_per_s": 1000 * rate(request_model_path),
        "columnar_batch_rows_per_s": 1000 * rate(columnar_path),
    }))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    parser.add_argument("--reuse", action="store_true", help="keep an already packaged model")
    parser.add_argument("--only", nargs="*", help="run only these targets (by name)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args(argv)

    project = WORK / "serving"
    home = project / "bentoml"
    env = bench_env(home)
    if not (args.reuse and (home / "models" / "fraud_detection").is_dir()):
        package_model(project, home, env, args.transactions)
    tag = latest_tag(home)
    single, batches, sample = request_bodies(project)
    print(f"model {tag}; {len(sample):,} request transactions", flush=True)

    ceiling = measure_ceiling(tag, project, env, batches)
    print("in-process:", json.dumps(ceiling), flush=True)

    targets = [("fastapi (hand-written)", None)] + [(v.name, v) for v in VARIANTS]
    if args.only:
        targets = [t for t in targets if t[0] in args.only]
    results = {}
    for name, variant in targets:
        print(f"== {name}", flush=True)
        results[name] = _measure(name, variant, project, env, single, batches, args.duration)

    body = _render(tag, args, ceiling, results)
    print(body)
    if not args.no_write:
        write_section("serving", body)
    return 0


def bench_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "true",
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


def package_model(project: Path, home: Path, env: dict, n: int) -> None:
    project = scratch_project(project.name)
    params = f"data_generation.n_transactions={n},data_generation.n_customers={max(n // 30, 100)}"
    with (project / "kedro_run.log").open("w") as log:
        subprocess.run(
            [str(KEDRO), "run", "--params", params],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )


def latest_tag(home: Path) -> str:
    versions = sorted(
        (home / "models" / "fraud_detection").glob("*/model.yaml"), key=lambda p: p.stat().st_mtime
    )
    return f"fraud_detection:{versions[-1].parent.name}"


def request_bodies(project: Path) -> tuple[Path, Path, list[dict]]:
    """Request bodies from test-period transactions: one per line, single and 1,000-row."""
    import pandas as pd

    data = project / "data"
    test_ids = pd.read_parquet(data / "07_model_output/test_predictions.parquet")["transaction_id"]
    scoring = pd.read_parquet(data / "04_feature/scoring_input.parquet")
    sample = scoring[scoring["transaction_id"].isin(test_ids)].head(5 * BATCH_ROWS)
    sample.to_parquet(project / "sample.parquet")
    records = sample.drop(columns=["is_fraud"]).to_dict("records")
    for record in records:
        record["timestamp"] = record["timestamp"].isoformat()
    single = project / "single.jsonl"
    single.write_text("".join(json.dumps({"transactions": [r]}) + "\n" for r in records))
    batches = project / "batches.jsonl"
    batches.write_text(
        "".join(
            json.dumps({"transactions": records[i : i + BATCH_ROWS]}) + "\n"
            for i in range(0, len(records), BATCH_ROWS)
        )
    )
    return single, batches, records


def _measure(
    name: str,
    variant: Variant | None,
    project: Path,
    env: dict,
    single: Path,
    batches: Path,
    duration: float,
) -> dict:
    port = free_port()
    log = project / f"{re.sub(r'[^a-z0-9]+', '_', name.lower())}.log"
    if variant is None:
        cmd = [str(UVICORN), "fastapi_app:app", "--app-dir", str(HERE)]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        # Tuned by hand as its author would: OpenMP sized to the whole machine in each of
        # uvicorn's threads would collapse it under load. The BentoML service sizes its own.
        server_env = {**env, "OMP_NUM_THREADS": "1"}
    else:
        config = project / f"{log.stem}.yaml"
        config.write_text(json.dumps({"services": {"FraudDetection": variant.config}}))
        cmd = [str(BENTOML), "serve", "fraud_detection.service:FraudDetection"]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
        server_env = {**env, "BENTOML_CONFIG": str(config), **variant.env}
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        server = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=server_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(url, server, log)
        runs = {}
        for concurrency in CONCURRENCIES:
            runs[f"single_c{concurrency}"] = _load(url, single, concurrency, duration, server.pid)
            print(f"   c={concurrency:<3} {_line(runs[f'single_c{concurrency}'])}", flush=True)
        runs.update(measure_batches(url, batches, duration, server.pid))
        if variant is not None:
            runs["mean_batch_size"] = _mean_batch_size(url)
        return runs
    finally:
        stop_server(server)


def stop_server(server: subprocess.Popen) -> None:
    """Stop a server started in its own session: SIGTERM to its group, SIGKILL after 30 s."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def measure_ceiling(tag: str, project: Path, env: dict, batches: Path) -> dict:
    """The in-process figures (``CEILING``) for model ``tag``, in a process of their own."""
    result = subprocess.run(
        [str(PYTHON), "-c", CEILING, tag, str(project / "sample.parquet"), str(batches)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


def measure_batches(url: str, batches: Path, duration: float, server_pid: int) -> dict:
    """1,000-transaction requests at each of ``BATCH_CONCURRENCIES``: ``{"batch_c1": ...}``,
    each with ``rows_per_s``."""
    runs = {}
    for concurrency in BATCH_CONCURRENCIES:
        run = runs[f"batch_c{concurrency}"] = _load(url, batches, concurrency, duration, server_pid)
        run["rows_per_s"] = run["rps"] * BATCH_ROWS
        print(f"   batch c={concurrency:<3} {_line(run)}", flush=True)
    return runs


def _load(url: str, bodies: Path, concurrency: int, duration: float, server_pid: int) -> dict:
    """Run load.py; add the server's CPU time per answered request (all its processes).

    CPU per request barely moves when other work shares the cores, unlike req/s: it is the
    figure to compare configurations by on a busy machine.
    """
    command = [
        str(PYTHON),
        str(HERE / "load.py"),
        "--url",
        f"{url}/predict",
        "--bodies",
        str(bodies),
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
        "--warmup",
        "0",
    ]
    subprocess.run(
        [*command[:-4], "--duration", "3", "--warmup", "0"], check=True, capture_output=True
    )  # warm-up, not measured
    before = cpu_seconds(server_pid)
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    spent = cpu_seconds(server_pid) - before
    measured = json.loads(result.stdout.splitlines()[-1])
    measured["cpu_ms_per_request"] = 1e3 * spent / max(measured["requests"], 1)
    return measured


def cpu_seconds(pid: int) -> float:
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _mean_batch_size(url: str) -> float | None:
    import urllib.request

    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    total = re.findall(
        r"^bentoml_service_adaptive_batch_size_sum\{[^}]*\} ([0-9.e+]+)$", text, re.M
    )
    count = re.findall(
        r"^bentoml_service_adaptive_batch_size_count\{[^}]*\} ([0-9.e+]+)$", text, re.M
    )
    if not count or sum(map(float, count)) == 0:
        return None
    return sum(map(float, total)) / sum(map(float, count))


def _line(run: dict) -> str:
    return (
        f"{run['rps']:8.1f} req/s  p50 {run['p50_ms']:7.1f} ms  p99 {run['p99_ms']:7.1f} ms  "
        f"cpu {run['cpu_ms_per_request']:5.2f} ms/req  "
        f"errors {run['errors']} {run['statuses'] if run['errors'] else ''}"
    )


def wait_ready(
    url: str, server: subprocess.Popen, log: Path, timeout: float = 180, path: str = "/readyz"
) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"server exited ({server.returncode}): see {log}")
        try:
            if urllib.request.urlopen(f"{url}{path}", timeout=2).status == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server not ready after {timeout} s: see {log}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _render(tag: str, args: argparse.Namespace, ceiling: dict, results: dict) -> str:
    today = dt.date.today().isoformat()
    lines = [
        "## Serving",
        "",
        f"`benchmarks/serving/bench.py`, {today}, {machine()}.",
        f"Model `{tag}` trained on {args.transactions:,} transactions; requests are",
        "test-period transactions. Load from `load.py` in a separate process on the same 2 cores",
        f"(closed loop, {args.duration:.0f} s per level after 3 s of warm-up); batches are",
        f"{BATCH_ROWS:,} transactions per request at concurrency "
        f"{' and '.join(map(str, BATCH_CONCURRENCIES))}. CPU is the",
        "server's own (all its processes) per answered request: the figure that stays put when",
        "other work shares the machine; req/s and latencies do not.",
        "",
        "| server | c=1: req/s, p50/p99 ms | c=8 | c=32 | CPU ms/req at c=32 | errors "
        + "".join(f"| batches c={c}: rows/s " for c in BATCH_CONCURRENCIES)
        + "| mean adaptive batch |",
        "|---|---|---|---|---|---|" + "---|" * len(BATCH_CONCURRENCIES) + "---|",
    ]
    for name, runs in results.items():
        cells, errors = [], 0
        for c in CONCURRENCIES:
            run = runs[f"single_c{c}"]
            errors += run["errors"]
            cells.append(f"{run['rps']:,.0f}, {run['p50_ms']:.0f}/{run['p99_ms']:.0f}")
        batch_cells = []
        for c in BATCH_CONCURRENCIES:
            errors += runs[f"batch_c{c}"]["errors"]
            batch_cells.append(f"{runs[f'batch_c{c}']['rows_per_s']:,.0f}")
        batch = runs.get("mean_batch_size")
        lines.append(
            f"| {name} | {' | '.join(cells)} | {runs['single_c32']['cpu_ms_per_request']:.2f} "
            f"| {errors} | {' | '.join(batch_cells)} "
            f"| {f'{batch:.1f}' if batch else 'n/a'} |"
        )
    ceiling_rows = f"{ceiling['batch_rows_per_s']:,.0f}"
    lines += [
        f"| in-process pipeline (ceiling, one core) | {ceiling['single_calls_per_s']:,.0f} calls/s "
        f"of one row | | | | | {' | '.join([ceiling_rows] * len(BATCH_CONCURRENCIES))} | |",
        "",
        "In-process, the service's whole path for a 1,000-row request body (JSON to the "
        "batch's frame, the contract's checks, the pipeline) does "
        f"{ceiling['columnar_batch_rows_per_s']:,.0f} rows/s with the columnar fast path "
        "(lab2prod.serving.columnar), against "
        f"{ceiling['request_model_batch_rows_per_s']:,.0f} rows/s through the pydantic request "
        "model and per-record objects: "
        f"x{ceiling['columnar_batch_rows_per_s'] / ceiling['request_model_batch_rows_per_s']:.2f}.",
    ]
    names = [name for name in results if name.startswith("bentoml")]
    if len(names) > 1:
        lines += ["", "What each step bought (concurrency 32, against the line before):", ""]
        for previous, name in itertools.pairwise(names):
            now, before = results[name]["single_c32"], results[previous]["single_c32"]
            lines.append(
                f"- {name}: req/s x{now['rps'] / before['rps']:.2f}, CPU per request "
                f"{before['cpu_ms_per_request']:.2f} -> {now['cpu_ms_per_request']:.2f} ms, p99 "
                f"{before['p99_ms']:.0f} -> {now['p99_ms']:.0f} ms."
            )
    base = results.get("fastapi (hand-written)")
    if base:
        lines += ["", "Against the targets (concurrency 32):", ""]
        for name in names:
            run, runs = results[name]["single_c32"], results[name]
            shares = ", ".join(
                f"{runs[f'batch_c{c}']['rows_per_s'] / ceiling['batch_rows_per_s']:.0%} at c={c}"
                for c in BATCH_CONCURRENCIES
            )
            errors = run["errors"] + sum(runs[f"batch_c{c}"]["errors"] for c in BATCH_CONCURRENCIES)
            lines.append(
                f"- {name}: {run['rps'] / base['single_c32']['rps']:.2f}x the FastAPI baseline "
                f"(target >= 3x), p99 {run['p99_ms']:.0f} ms (<= 100), {errors} errors (0); "
                f"batches {shares} of in-process rows/s (>= 50%)."
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
