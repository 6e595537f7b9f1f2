"""Soak: each server fresh, minutes of single-transaction load, reported window by window.

Run with ``.venv/bin/python benchmarks/serving/soak.py [--duration 300] [--only lab2prod ...]``.
The model and request bodies are ``bench.py``'s (``benchmarks/.work/serving``; ``--reuse`` keeps
a packaged model). Then, one after the other, on loopback, each server started fresh:

- ``lab2prod``: ``bentoml serve fraud_detection.service:FraudDetection``, as shipped (no
  BentoML config; a worker per core);
- ``fastapi``: the hand-written baseline, ``fastapi_app.py`` under uvicorn (as ``bench.py``);
- ``mlflow``: the alternative a Kedro user picks today: the project's ``inference`` pipeline
  bound with kedro-mlflow's ``pipeline_ml_factory`` (``mlflow_alternative/``), logged by
  ``kedro run --pipelines training`` to a SQLite MLflow store and served by
  ``mlflow models serve --env-manager local -w 2`` (needs the ``tracking`` extra's
  environment: ``make .tools/tracking/.installed``).

Each gets ``--concurrency`` keep-alive connections from wrk (Debian's ``wrk``; ``--client load``
uses ``load.py`` instead) sending one transaction per request, for ``--duration`` seconds after
``--warmup``, measured in back-to-back ``--window``-second windows. Reported per server: req/s
and p99 of each window (min, median, max), the worst window, errors, the server's CPU seconds
(all its processes) per request, the RSS of each worker at the start and the end. For lab2prod,
then, 1,000-transaction batches against the in-process pipeline (``bench.py``'s measurement).
Results replace the ``serving_soak`` section of ``docs/benchmarks.md``, with the 1-minute load
average before and after.

Recording: ``--log off on`` soaks the lab2prod server once without (``off``: the prediction
log and the live drift counts off) and once with them (``on``: the log written to a folder of the
scratch project, live drift counted) in the same run, and reports on against off;
``--server-env NAME=VALUE`` sets anything on the lab2prod server (it wins over ``--log``).

Targets, for the worst window at concurrency 32: >= 10x the kedro-mlflow server's req/s, p99 <=
100 ms, zero errors; no worker's RSS growing by 10% or more; batches >= 50% of in-process rows/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from _common import ROOT, WORK, load_note, machine, scratch_project, write_section  # noqa: E402

TARGETS = ("lab2prod", "fastapi", "mlflow")
TRACKING = ROOT / ".tools" / "tracking" / "bin"
LOG_SETTING = "FRAUD_DETECTION_PREDICTION_LOG"
DRIFT_SETTING = "FRAUD_DETECTION_LIVE_DRIFT"
"""The service's recording settings: ``--log off`` turns both off, ``--log on`` writes the log
to a folder of the scratch project and counts live drift (``--server-env`` overrides either)."""
SERVICE = "fraud_detection.service:FraudDetection"
MLFLOW_WORKERS = 2


@dataclass(frozen=True)
class Target:
    """A server to soak: how to start it (``{port}`` in ``command``) and what to send it."""

    name: str
    command: list[str]
    bodies: Path
    env: dict = field(default_factory=dict)
    path: str = "/predict"
    ready: str = "/readyz"
    batches: Path | None = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds measured")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per window")
    parser.add_argument(
        "--warmup",
        type=float,
        default=15.0,
        help="seconds before measuring (longer than the prediction log's 10 s write interval)",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", nargs="+", choices=TARGETS, help="soak only these servers")
    parser.add_argument(
        "--log",
        nargs="+",
        choices=("default", "off", "on"),
        default=["default"],
        help="lab2prod soaks: recording off / on (default: the service's own settings)",
    )
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--client", choices=("wrk", "load"), default="wrk")
    parser.add_argument("--batch-duration", type=float, default=20.0, help="per batch level")
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep an already packaged model")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args(argv)
    if args.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed: apt-get install wrk (Debian), or --client load")

    project = WORK / "serving"
    home = project / "bentoml"
    env = bench.bench_env(home)
    load_before = os.getloadavg()[0]
    if not (args.reuse and (home / "models" / "fraud_detection").is_dir()):
        bench.package_model(project, home, env, args.transactions)
    tag = bench.latest_tag(home)
    single, batches, records = bench.request_bodies(project)
    print(f"model {tag}; load average {load_before:.2f}", flush=True)

    targets = _targets(args, project, env, tag, single, batches, records)
    results = {}
    for target in targets:
        print(f"== {target.name}", flush=True)
        results[target.name] = _soak(target, args, project)
    ceiling = None
    if any(t.batches for t in targets):
        ceiling = bench.measure_ceiling(tag, project, env, batches)
        print("in-process:", json.dumps(ceiling), flush=True)
    load_after = os.getloadavg()[0]

    body = _render(tag, args, results, ceiling, (load_before, load_after))
    print(body)
    if not args.no_write:
        write_section("serving_soak", body)
    return 0


def _targets(
    args: argparse.Namespace,
    project: Path,
    env: dict,
    tag: str,
    single: Path,
    batches: Path,
    records: list[dict],
) -> list[Target]:
    chosen = args.only or TARGETS
    server_env = dict(item.split("=", 1) for item in args.server_env)
    targets = []
    if "lab2prod" in chosen:
        for log in args.log:
            name = "lab2prod" if log == "default" else f"lab2prod (recording {log})"
            settings = dict(env)
            if log == "off":
                settings.update({LOG_SETTING: "off", DRIFT_SETTING: "off"})
            elif log == "on":
                settings.update({LOG_SETTING: str(project / "prediction_log"), DRIFT_SETTING: "on"})
            settings.update(server_env)  # what is set explicitly wins
            command = [str(bench.BENTOML), "serve", SERVICE]
            command += ["--host", "127.0.0.1", "--port", "{port}"]
            targets.append(Target(name, command, single, settings, batches=batches))
    if "fastapi" in chosen:
        command = [str(bench.UVICORN), "fastapi_app:app", "--app-dir", str(HERE)]
        command += ["--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]
        # As bench.py runs it: OpenMP held to one thread by hand, as its author would.
        settings = {**env, "OMP_NUM_THREADS": "1", "FRAUD_DETECTION_MODEL": tag}
        targets.append(Target("fastapi (hand-written)", command, single, settings))
    if "mlflow" in chosen:
        uri, settings = _mlflow_model(project, env, reuse=args.reuse)
        bodies = project / "mlflow_single.jsonl"
        # kedro-mlflow's "auto" signature is scoring_input's, label included: requests carry it
        # (the features pass it through, the score ignores it).
        bodies.write_text(
            "".join(
                json.dumps({"dataframe_records": [{**r, "is_fraud": 0}]}) + "\n" for r in records
            )
        )
        command = [str(TRACKING / "mlflow"), "models", "serve", "-m", uri, "--env-manager"]
        command += ["local", "-w", str(MLFLOW_WORKERS), "-h", "127.0.0.1", "-p", "{port}"]
        name = f"kedro-mlflow (mlflow models serve, {MLFLOW_WORKERS} workers)"
        targets.append(Target(name, command, bodies, settings, "/invocations", "/ping"))
    return targets


def _mlflow_model(project: Path, env: dict, *, reuse: bool) -> tuple[str, dict]:
    """Train and log the model the kedro-mlflow way (``reuse``: unless logged already); its URI
    and the environment to serve it."""
    if not (TRACKING / "kedro").is_file():
        raise SystemExit(
            "The kedro-mlflow alternative needs the `tracking` extra's environment: run "
            "`make .tools/tracking/.installed` (or leave it out: --only lab2prod fastapi)"
        )
    alternative = WORK / "serving-mlflow"
    settings = {
        **env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{alternative / 'mlflow.db'}",
        # As with its environment activated and its project installed: mlflow starts
        # `uvicorn` from the PATH, and the model's pickle imports the project's package.
        "PATH": f"{TRACKING}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(alternative / "src"),
    }
    if not (reuse and (alternative / "mlflow.db").is_file()):
        _log_mlflow_model(project, alternative, settings)
    find = (
        "import mlflow; runs = mlflow.search_runs(search_all_experiments=True, "
        "order_by=['start_time DESC'], max_results=1, output_format='list'); "
        "print(runs[0].info.run_id)"
    )
    run_id = subprocess.run(
        [str(TRACKING / "python"), "-c", find],
        cwd=alternative,
        env=settings,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    return f"runs:/{run_id}/model", settings


def _log_mlflow_model(project: Path, alternative: Path, settings: dict) -> None:
    alternative = scratch_project(alternative.name)
    shutil.copytree(
        HERE / "mlflow_alternative" / "fraud_detection_mlflow",
        alternative / "src" / "fraud_detection_mlflow",
    )
    shutil.copy(HERE / "mlflow_alternative" / "conf" / "catalog.yml", alternative / "conf/local")
    pyproject = alternative / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'package_name = "fraud_detection"', 'package_name = "fraud_detection_mlflow"'
        )
    )
    # The same features as the lab2prod model was trained on (bench.py's run made them).
    shutil.copytree(
        project / "data" / "05_model_input",
        alternative / "data" / "05_model_input",
        dirs_exist_ok=True,
    )
    shutil.copytree(
        project / "data" / "04_feature", alternative / "data" / "04_feature", dirs_exist_ok=True
    )
    with (alternative / "kedro_run.log").open("w") as log:
        subprocess.run(
            [str(TRACKING / "kedro"), "run", "--pipelines", "training"],
            cwd=alternative,
            env=settings,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )


def _soak(target: Target, args: argparse.Namespace, project: Path) -> dict:
    port = bench.free_port()
    url = f"http://127.0.0.1:{port}"
    slug = "".join(c if c.isalnum() else "_" for c in target.name.lower())
    log = project / f"soak_{slug}.log"
    command = [part.replace("{port}", str(port)) for part in target.command]
    load_at_start = os.getloadavg()[0]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env=target.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        bench.wait_ready(url, server, log, timeout=300, path=target.ready)
        rss_ready = _worker_rss(server.pid)
        if args.warmup > 0:
            _window(args, url + target.path, target.bodies, args.warmup)
        rss_start = _worker_rss(server.pid)
        cpu_before = bench.cpu_seconds(server.pid)
        windows = []
        for index in range(max(1, round(args.duration / args.window))):
            window = _window(args, url + target.path, target.bodies, args.window)
            window["rss_mib"] = sorted(_worker_rss(server.pid).values())
            windows.append(window)
            print(
                f"   {index + 1:3d} {window['rps']:8.1f} req/s  p99 {window['p99_ms']:8.1f} ms  "
                f"errors {window['errors']}  RSS MiB "
                + " ".join(f"{rss:.0f}" for rss in window["rss_mib"]),
                flush=True,
            )
        cpu = bench.cpu_seconds(server.pid) - cpu_before
        rss_end = _worker_rss(server.pid)
        result = _summary(windows, cpu, rss_ready, rss_start, rss_end)
        result["load_at_start"] = load_at_start
        if target.batches is not None:
            batches = bench.measure_batches(url, target.batches, args.batch_duration, server.pid)
            result.update(batches)
        return result
    finally:
        bench.stop_server(server)


def _window(args: argparse.Namespace, url: str, bodies: Path, seconds: float) -> dict:
    """One window of closed-loop load: ok responses per second, latency quantiles, errors."""
    if args.client == "wrk":
        command = ["wrk", "-t", "2", "-c", str(args.concurrency), "-d", f"{seconds:g}s"]
        command += ["--timeout", "30s", "-s", str(HERE / "post.lua"), url, "--", str(bodies)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        errors = sum(run[k] for k in ("connect", "read", "write", "status", "timeout"))
        ok = run["requests"] - run["status"]
        return {
            "seconds": run["duration_us"] / 1e6,
            "requests": run["requests"],
            "ok": ok,
            "errors": errors,
            "rps": ok / (run["duration_us"] / 1e6),
            "p50_ms": run["p50_us"] / 1e3,
            "p99_ms": run["p99_us"] / 1e3,
            "max_ms": run["max_us"] / 1e3,
        }
    command = [str(bench.PYTHON), str(HERE / "load.py"), "--url", url, "--bodies", str(bodies)]
    command += ["--concurrency", str(args.concurrency), "--duration", f"{seconds:g}"]
    command += ["--warmup", "0"]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    run = json.loads(out.strip().splitlines()[-1])
    return {
        "seconds": seconds,
        "requests": run["requests"],
        "ok": run["ok"],
        "errors": run["errors"],
        "rps": run["rps"],
        "p50_ms": run["p50_ms"] or 0.0,
        "p99_ms": run["p99_ms"] or 0.0,
        "max_ms": run["max_ms"] or 0.0,
    }


def _worker_rss(pid: int) -> dict[int, float]:
    """RSS in MiB of each worker of the server ``pid``: the leaves of its process tree (the
    server itself when it has no children)."""
    import psutil

    root = psutil.Process(pid)
    processes = [root, *root.children(recursive=True)]
    rss = {}
    for process in processes:
        try:
            if process.children() or (process is root and len(processes) > 1):
                continue
            if "resource_tracker" in " ".join(process.cmdline()):  # multiprocessing's helper
                continue
            rss[process.pid] = process.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    return rss


def _summary(
    windows: list[dict],
    cpu: float,
    rss_ready: dict[int, float],
    rss_start: dict[int, float],
    rss_end: dict[int, float],
) -> dict:
    rps = [w["rps"] for w in windows]
    p99 = [w["p99_ms"] for w in windows]
    requests = sum(w["requests"] for w in windows)
    workers = [
        {
            "pid": pid,
            "ready_mib": rss_ready.get(pid),
            "start_mib": start,
            "end_mib": rss_end.get(pid),
            "growth": (rss_end[pid] / start - 1) if pid in rss_end else None,
        }
        for pid, start in sorted(rss_start.items())
    ]
    return {
        "windows": windows,
        "rps": (min(rps), statistics.median(rps), max(rps)),
        "p99_ms": (min(p99), statistics.median(p99), max(p99)),
        "worst": min(windows, key=lambda w: w["rps"]),
        "requests": requests,
        "errors": sum(w["errors"] for w in windows),
        "cpu_ms_per_request": 1e3 * cpu / max(requests, 1),
        "workers": workers,
        "replaced": sorted(set(rss_end) - set(rss_start)),
    }


def _rss(result: dict) -> str:
    parts = []
    for worker in result["workers"]:
        if worker["end_mib"] is None:
            parts.append(f"{worker['start_mib']:.0f} -> gone")
        else:
            parts.append(
                f"{worker['start_mib']:.0f} -> {worker['end_mib']:.0f} ({worker['growth']:+.1%})"
            )
    if result["replaced"]:
        parts.append(f"{len(result['replaced'])} new")
    return "; ".join(parts)


def _render(
    tag: str,
    args: argparse.Namespace,
    results: dict,
    ceiling: dict | None,
    load: tuple[float, float],
) -> str:
    client = (
        "wrk (2 threads, a Lua script cycling through the bodies)"
        if args.client == "wrk"
        else "load.py"
    )
    windows = max(1, round(args.duration / args.window))
    lines = [
        "## Serving soak",
        "",
        f"`benchmarks/serving/soak.py`, {dt.date.today().isoformat()}, {machine()}.",
        load_note(*load),
        f"Model `{tag}`; requests of one test-period transaction each. Each server is started",
        f"fresh, warmed for {args.warmup:g} s, then loaded by {client} with {args.concurrency}",
        f"keep-alive connections on the same cores for {windows} back-to-back windows of",
        f"{args.window:g} s. The worst window (fewest req/s) is the headline; CPU is the server's",
        "own (all its processes) per request; RSS is each worker's after the warm-up and at the",
        "end.",
        "",
        "| server | worst window: req/s, p99 ms | req/s min / median / max | p99 ms min / median "
        "/ max | errors | CPU ms/req | worker RSS MiB, start -> end |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        worst, rps, p99 = result["worst"], result["rps"], result["p99_ms"]
        lines.append(
            f"| {name} | {worst['rps']:,.0f}, {worst['p99_ms']:.0f} | "
            f"{rps[0]:,.0f} / {rps[1]:,.0f} / {rps[2]:,.0f} | "
            f"{p99[0]:.0f} / {p99[1]:.0f} / {p99[2]:.0f} | {result['errors']} | "
            f"{result['cpu_ms_per_request']:.2f} | {_rss(result)} |"
        )
    lines += ["", "Req/s per window, in order:", ""]
    for name, result in results.items():
        series = " ".join(f"{w['rps']:.0f}" for w in result["windows"])
        lines.append(f"- {name}: {series}")
    mlflow = next((r for n, r in results.items() if n.startswith("kedro-mlflow")), None)
    lab2prod = {n: r for n, r in results.items() if n.startswith("lab2prod")}
    if lab2prod:
        lines += ["", f"Against the targets (worst window, concurrency {args.concurrency}):", ""]
    for name, result in lab2prod.items():
        worst = result["worst"]
        ratio = (
            f"{worst['rps'] / mlflow['worst']['rps']:.1f}x the kedro-mlflow server's worst window"
            if mlflow and mlflow["worst"]["rps"] > 0
            else "kedro-mlflow not measured in this run"
        )
        growth = max((w["growth"] or 0.0) for w in result["workers"]) if result["workers"] else 0
        batch = ""
        if ceiling and "batch_c1" in result:
            shares = ", ".join(
                f"{result[f'batch_c{c}']['rows_per_s']:,.0f} rows/s at c={c} "
                f"({result[f'batch_c{c}']['rows_per_s'] / ceiling['batch_rows_per_s']:.0%})"
                for c in bench.BATCH_CONCURRENCIES
            )
            batch = (
                f"; 1,000-transaction batches after the soak: {shares} of the in-process "
                f"pipeline's {ceiling['batch_rows_per_s']:,.0f} (>= 50%)"
            )
        lines.append(
            f"- {name}: {ratio} (>= 10x); p99 {worst['p99_ms']:.0f} ms in the worst window, "
            f"{result['p99_ms'][2]:.0f} ms in the slowest (<= 100); {result['errors']} errors "
            f"(0); largest worker RSS growth {growth:+.1%} (< 10%){batch}."
        )
    logged = [n for n in lab2prod if "recording" in n]
    if len(logged) == 2:
        off, on = (lab2prod[n] for n in sorted(logged))  # "off" sorts before "on"
        ratio = on["worst"]["rps"] / off["worst"]["rps"]
        median = on["rps"][1] / off["rps"][1]
        lines.append(
            f"- recording (prediction log, live drift) on against off: worst window "
            f"x{ratio:.2f} (target: >= 0.90), median window x{median:.2f}, CPU per request "
            f"{off['cpu_ms_per_request']:.2f} -> "
            f"{on['cpu_ms_per_request']:.2f} ms."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
