"""What recording costs a serving worker: its path per request with the prediction log and the
live drift counts on, against off, in-process, on one core.

Run with ``.venv/bin/python benchmarks/monitoring/recording_cost.py [--seconds 10]`` after
``make run`` (it uses the model ``FRAUD_DETECTION_MODEL`` names in the BentoML store and
transactions of ``data/04_feature/scoring_input.parquet``; ``--data`` for another file). The
process is pinned to one core with its native pools at one thread, as a worker is; recording's
background threads (the log's writer, the live counts) run in it, so what they spend is taken
from the requests, as in a worker. Each request is one transaction, or a merged batch of
``--batch`` of them (what adaptive batching hands the scorer under load): the request's body
read to columns, scored, answered (``benchmarks/serving/path.py``'s path). Off and on alternate
``--rounds`` times; the result is the ratio of their transactions per second (medians), of
the process's CPU per transaction (all threads: steadier than the rate on a busy machine), and
the CPU recording's own background threads spend per transaction (read per thread: the
steadiest of the three). It
does not replace the soak (``benchmarks/serving/soak.py --log off on``): no HTTP, no batching
dispatcher, no ``/metrics`` scrapes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import ROOT, load_note, machine, write_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per round and setting")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16, help="transactions per merged batch")
    parser.add_argument(
        "--data", type=Path, default=ROOT / "data" / "04_feature" / "scoring_input.parquet"
    )
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    from lab2prod.threadpools import ThreadPoolLimit

    ThreadPoolLimit(1).apply()
    import pandas as pd

    from fraud_detection import service
    from lab2prod.serving import api
    from lab2prod.serving.recording import REQUEST_ID

    scorer = api.load_scorer(
        service.MODEL_TAG,
        project="fraud_detection",
        request_model=service.TransactionRequest,
        contract=service.ScoringRequest,
        request_input="scoring_input",
        output="predictions",
        prediction_fields=list(service.Prediction.model_fields),
    )
    frame = pd.read_parquet(args.data).drop(columns=["is_fraud"], errors="ignore").head(5_000)
    records = json.loads(frame.to_json(orient="records", date_format="iso"))
    bodies = [json.dumps({"transactions": [r]}).encode() for r in records]
    reader = service.PredictRequest.reader
    loop = asyncio.new_event_loop()

    def path(size: int):
        i = 0

        def one() -> None:
            nonlocal i
            parts = []
            for _ in range(size):
                columns = reader.read(bodies[i % len(bodies)])
                i += 1
                columns = {**columns, REQUEST_ID: ["r"]}
                parts.append(api.ColumnBatch(columns, 1))
            from lab2prod.serving.batching import concat

            rows = scorer(concat(parts))
            loop.run_until_complete(service.PredictResponse.to_http_response(rows, None))

        return one

    load_before = os.getloadavg()[0]
    results: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as work:
        for size in (1, args.batch):
            for _ in range(args.rounds):
                for setting in ("off", "on"):
                    recorder = None
                    if setting == "on":
                        os.environ["PROMETHEUS_MULTIPROC_DIR"] = work
                        recorder = api.start_recording(
                            scorer,
                            prefix="bench",
                            log=str(Path(work) / "log"),
                            live_drift=True,
                        )
                    else:
                        scorer.on_scored = None
                    threads = _recording_cpu()
                    calls, cpu = _rate(path(size), args.seconds)
                    threads = _recording_cpu() - threads
                    if recorder is not None:
                        recorder.close()  # its last writes counted in neither
                        scorer.on_scored = None
                    rate, cpu_us = calls * size, cpu / size * 1e6
                    threads_us = threads / (calls * args.seconds * size) * 1e6
                    results.setdefault((size, setting), []).append(rate)
                    results.setdefault((size, setting + "_cpu"), []).append(cpu_us)
                    results.setdefault((size, setting + "_threads"), []).append(threads_us)
                    print(
                        f"{size:>3} per batch, recording {setting}: {rate:8.0f} tx/s, "
                        f"{cpu_us:8.1f} CPU us/tx, of which recording's threads {threads_us:.1f}",
                        flush=True,
                    )
    load_after = os.getloadavg()[0]
    lines = [
        "## Monitoring: what recording costs a serving worker",
        "",
        f"`benchmarks/monitoring/recording_cost.py --seconds {args.seconds:g} --rounds "
        f"{args.rounds} --batch {args.batch}`, {dt.date.today().isoformat()}, {machine()}; one "
        "core. " + load_note(load_before, load_after),
        "",
        "| transactions per batch | recording off: tx/s, CPU µs/tx | on: tx/s, CPU µs/tx | "
        "tx/s on / off | CPU on / off | recording's threads, CPU µs/tx |",
        "|---|---|---|---|---|---|",
    ]
    for size in (1, args.batch):
        off, on = (statistics.median(results[(size, k)]) for k in ("off", "on"))
        off_cpu, on_cpu = (statistics.median(results[(size, k)]) for k in ("off_cpu", "on_cpu"))
        threads = statistics.median(results[(size, "on_threads")])
        lines.append(
            f"| {size} | {off:,.0f}, {off_cpu:,.0f} | {on:,.0f}, {on_cpu:,.0f} | "
            f"{on / off:.2f} | {on_cpu / off_cpu:.2f} | {threads:.1f} |"
        )
    body = "\n".join(lines) + "\n"
    print(body)
    if args.write:
        write_section("monitoring_recording_cost", body)
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _recording_cpu() -> float:
    """CPU seconds spent so far by recording's background threads (the log's writer, the live
    counts), read per thread from /proc: what recording takes from the requests, however busy
    the machine is."""
    import threading

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for thread in threading.enumerate():
        if not thread.name.startswith("lab2prod-") or thread.native_id is None:
            continue
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except OSError:  # the thread ended
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _rate(call, seconds: float) -> tuple[float, float]:
    """Calls per second, and CPU seconds (all threads) per call."""
    call()
    count, start, cpu = 0, time.perf_counter(), _cpu()
    while time.perf_counter() - start < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - start), (_cpu() - cpu) / count


if __name__ == "__main__":
    sys.exit(main())
