"""The prediction log's cost per scored batch: ``bentoml.monitor`` against lab2prod's parquet sink.

Run with ``.venv/bin/python benchmarks/monitoring/log_sink.py [--seconds 5]``. In one process,
one core (as a serving worker), batches of scored transactions of 1, 32 and 1,000 rows (the
example's request columns, its score and decision) are logged again and again for
``--seconds`` each:

- **bentoml.monitor** (its default monitor: JSON lines through Python logging to a rotating
  file, written in the caller's thread), every column of the batch logged with ``log_batch``;
- **lab2prod's PredictionSink**: the batch handed over by reference, parquet parts of 50,000
  rows written (``write_part``; in a worker by its background thread, here inline between
  batches so that the loop cannot outrun the writer).

For each: microseconds per batch in the caller's thread (what a request waits for), and CPU
microseconds per row of the whole process (background writing included: what the worker's core
pays). Prints a table; ``--write`` replaces the ``monitoring_log_sink`` section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import load_note, machine, write_section  # noqa: E402

SIZES = (1, 32, 1_000)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _batch(rows: int):
    import numpy as np
    import pandas as pd

    from fraud_detection.request import EXAMPLE_TRANSACTION

    inputs = pd.DataFrame([EXAMPLE_TRANSACTION] * rows)
    inputs["transaction_id"] = [f"tx{i:08d}" for i in range(rows)]
    inputs["timestamp"] = pd.to_datetime(inputs["timestamp"])
    rng = np.random.default_rng(0)
    inputs["amount"] = rng.lognormal(3, 1, rows)
    outputs = pd.DataFrame(
        {
            "transaction_id": inputs["transaction_id"],
            "fraud_probability": rng.uniform(0, 1, rows),
            "is_fraud": rng.uniform(0, 1, rows) > 0.9,
        }
    )
    return inputs, outputs


def run_bentoml(rows: int, seconds: float, folder: str) -> tuple[float, float, int]:
    import bentoml

    inputs, outputs = _batch(rows)
    # As a service would: from the frames, a list of Python values per column.
    options = {"log_path": folder}
    batches, waited = 0, 0.0
    cpu, stop = _cpu(), time.perf_counter() + seconds
    while time.perf_counter() < stop:
        started = time.perf_counter()
        with bentoml.monitor("fraud_detection", "default", options) as mon:
            for column in inputs.columns:
                # "timestamp" is a name bentoml.monitor reserves (it warns, and renames it)
                name = "transaction_time" if column == "timestamp" else column
                kind = "numerical" if inputs[column].dtype.kind in "fi" else "categorical"
                mon.log_batch(
                    inputs[column].astype(str).tolist()
                    if kind == "categorical"
                    else inputs[column].tolist(),
                    name,
                    "feature",
                    kind,
                )
            mon.log_batch(
                outputs["fraud_probability"].tolist(),
                "fraud_probability",
                "prediction",
                "numerical",
            )
            mon.log_batch(outputs["is_fraud"].tolist(), "is_fraud", "prediction", "categorical")
        waited += time.perf_counter() - started
        batches += 1
    return waited / batches * 1e6, (_cpu() - cpu) / (batches * rows) * 1e6, batches * rows


def run_sink(rows: int, seconds: float, folder: str) -> tuple[float, float, int]:
    from lab2prod.monitoring.sink import PredictionSink

    inputs, outputs = _batch(rows)
    # The writer's work is done here, in this thread, whenever a part's worth is waiting (in a
    # worker the background thread does it): a loop adding the same frame outruns any writer,
    # which a server's traffic does not.
    sink = PredictionSink(folder, max_rows=50_000, max_seconds=10)
    batches, waited, pending = 0, 0.0, 0
    cpu, stop = _cpu(), time.perf_counter() + seconds
    while time.perf_counter() < stop:
        started = time.perf_counter()
        sink.add(inputs, outputs, model="fraud_detection:bench", request_id="r")
        waited += time.perf_counter() - started
        batches += 1
        pending += rows
        if pending >= sink.max_rows:
            sink.flush()
            pending = 0
    sink.close()
    assert sink.written == batches * rows, (sink.written, batches * rows)
    return waited / batches * 1e6, (_cpu() - cpu) / (batches * rows) * 1e6, batches * rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per size and sink")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args(argv)
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    load_before = os.getloadavg()[0]
    rows_out = []
    for rows in SIZES:
        for name, run in (("bentoml.monitor", run_bentoml), ("PredictionSink", run_sink)):
            with tempfile.TemporaryDirectory() as folder:
                waited, cpu, logged = run(rows, args.seconds, folder)
            rows_out.append((rows, name, waited, cpu, logged))
            print(
                f"{rows:>5} rows {name:<16} {waited:10.1f} us/batch waited "
                f"{cpu:8.2f} us CPU/row ({logged:,} rows)",
                flush=True,
            )
    load_after = os.getloadavg()[0]
    lines = [
        "## Monitoring: the prediction log's cost, bentoml.monitor against the parquet sink",
        "",
        f"`benchmarks/monitoring/log_sink.py --seconds {args.seconds:g}`, "
        f"{dt.date.today().isoformat()}, {machine()}; one core. "
        + load_note(load_before, load_after),
        "",
        "| rows per batch | sink | µs per batch, request's thread | CPU µs per row, all threads |",
        "|---|---|---|---|",
    ]
    for rows, name, waited, cpu, _ in rows_out:
        lines.append(f"| {rows:,} | {name} | {waited:,.1f} | {cpu:,.2f} |")
    body = "\n".join(lines) + "\n"
    print(body)
    if args.write:
        write_section("monitoring_log_sink", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
