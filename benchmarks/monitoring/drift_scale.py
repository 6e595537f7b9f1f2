"""Drift at scale: lab2prod's monitoring check on 10M logged predictions, against Evidently.

Run with ``.venv/bin/python benchmarks/monitoring/drift_scale.py [--rows 10000000]``
(Evidently runs in an environment of its own: ``make benchmark-tools`` or
``UV_PROJECT_ENVIRONMENT=.tools/evidently .tools/bin/uv sync --frozen --project tools/evidently``).

Set-up (not timed): a fraud model trained on a generated world with the project's own nodes, its
reference profile, and a prediction log of ``--rows`` rows: the month after training scored by
the model, resampled with replacement, written as parquet parts of the prediction log's format.

Timed, each in a child process (its own peak RSS, ``wait4``), on the same log in the same run:

- **lab2prod**: the monitoring pipeline's drift core, as ``kedro monitor check`` runs it: the
  window's counts read from the log in batches (``count_window``), the drift table with its
  calibrated thresholds (``check_drift``) and drift day by day (``drift_over_time``);
- **Evidently**: ``Report([DataDriftPreset()]).run(current, reference)`` on the same monitored
  columns, the reference being the model's training rows. Evidently needs the whole window in
  memory; with ``--evidently-rows`` below ``--rows`` it gets a uniform sample of the log
  (said so in the results), and its rows/s are those of the sample.

Rows/s is the log's rows (or the sample's) over the child's wall time, reading included. The
results replace the ``monitoring_drift`` section of ``docs/benchmarks.md``, with the 1-minute
load average before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import ROOT, WORK, Measured, load_note, machine, write_section  # noqa: E402

EVIDENTLY_PYTHON = ROOT / ".tools" / "evidently" / "bin" / "python"
PART_ROWS = 1_000_000
TRAINED_UNTIL = 0.7


def _conf(name: str) -> dict:
    import yaml

    return yaml.safe_load((ROOT / "conf" / "base" / f"{name}.yml").read_text())


def _world(n_transactions: int, seed: int, drift: dict | None = None):
    from fraud_detection.pipelines.data_generation.nodes import (
        GenerationParams,
        generate_customers,
        generate_merchants,
        generate_transactions,
    )
    from fraud_detection.pipelines.data_processing.nodes import (
        attach_activity,
        clean_transactions,
        compute_activity_aggregates,
    )

    conf = _conf("parameters_data_generation")["data_generation"]
    params = {
        **conf,
        "seed": seed,
        "n_transactions": n_transactions,
        "n_customers": max(n_transactions // 30, 100),
    }
    if drift:
        params["drift"] = drift
    generation = GenerationParams(**params)
    customers, merchants = generate_customers(generation), generate_merchants(generation)
    clean = clean_transactions(generate_transactions(customers, merchants, generation))
    return attach_activity(clean, compute_activity_aggregates(clean))


def setup(work: Path, rows: int, transactions: int) -> dict:
    """Train, profile and write the log; returns the paths and sizes."""
    import numpy as np
    import pandas as pd

    from fraud_detection.pipelines.evaluation.nodes import (
        EvaluationParams,
        choose_threshold,
        predict_test,
    )
    from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
    from fraud_detection.pipelines.reference.nodes import reference_data
    from fraud_detection.pipelines.training.nodes import (
        ModelParams,
        SplitParams,
        split_by_time,
        train_model,
    )
    from lab2prod.monitoring import ReferenceParams, build_reference
    from lab2prod.monitoring.log import write_part

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = _world(transactions, seed=7)
    model_input = build_features(data, FeatureParams())
    train_set, validation_set, test_set = split_by_time(model_input, SplitParams())
    model_conf = _conf("parameters_training")["training"]["model"]
    model = train_model(train_set, ModelParams(**{**model_conf, "max_iter": 60}))
    threshold = choose_threshold(model, validation_set, EvaluationParams())
    predictions = predict_test(model, model, test_set, threshold)
    inputs, scored, threshold = reference_data(
        data, train_set, predictions, {"threshold": threshold}
    )
    reference = ReferenceParams(**_conf("parameters_reference")["reference"])
    profile = build_reference(inputs, scored, threshold, reference)
    (work / "profile.json").write_text(json.dumps(profile))

    def score(frame: pd.DataFrame) -> pd.DataFrame:
        features = build_features(frame, FeatureParams())
        p = model.predict_proba(features[list(model.feature_names_in_)])[:, 1]
        return frame.drop(columns=["is_fraud"], errors="ignore").assign(
            fraud_probability=p, is_fraud=p >= threshold, model="fraud_detection:bench"
        )

    monitored = [*reference.numeric, *reference.categorical, "fraud_probability", "is_fraud"]
    score(inputs)[monitored].to_parquet(work / "reference.parquet")

    later = _world(transactions + 1, seed=7)
    times = later["timestamp"]
    later = later[times >= times.min() + (times.max() - times.min()) * TRAINED_UNTIL]
    window = score(later.reset_index(drop=True))
    rng = np.random.default_rng(0)
    log = work / "prediction_log"
    for start in range(0, rows, PART_ROWS):
        take = rng.integers(0, len(window), min(PART_ROWS, rows - start))
        write_part(str(log), window.iloc[take].reset_index(drop=True))
    return {"window_rows": len(window), "reference_rows": len(inputs), "columns": monitored}


LAB2PROD_CHILD = """
import json, sys, time
start = time.perf_counter()
from lab2prod.monitoring import (
    DriftParams, WindowParams, check_drift, count_window, drift_over_time, reference_of,
)
from lab2prod.monitoring.log import ParquetLog
work = sys.argv[1]
profile = json.load(open(f"{work}/profile.json"))
reference = reference_of(profile, "fraud_detection:bench")
log = ParquetLog.open(f"{work}/prediction_log")
window = WindowParams(last=None)
counts = count_window(reference, log, window)
table = check_drift(reference, counts, DriftParams())
over_time = drift_over_time(reference, counts, DriftParams())
seconds = time.perf_counter() - start
print(json.dumps({"rows": int(table["rows"].max()), "seconds": seconds,
                  "drifted": int(table["drifted"].sum()),
                  "days": int(over_time["period"].nunique())}))
"""


def run_measured(
    args: list[str], cwd: Path, log: Path, *, stdout: Path, timeout: float | None = None
) -> Measured:
    """Run a command (stdout to ``stdout``, stderr to ``log``), killed after ``timeout``;
    its wall time and its own peak RSS (``wait4``)."""
    import threading

    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "2"}
    with log.open("w") as err, stdout.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if timer:
            timer.cancel()
    measured = Measured(seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
    return measured, usage.ru_utime + usage.ru_stime


def measure_lab2prod(work: Path) -> dict:
    out = work / "lab2prod.json"
    script = work / "lab2prod_child.py"
    script.write_text(LAB2PROD_CHILD)
    measured = run_measured(
        [sys.executable, str(script), str(work)], ROOT, work / "lab2prod.log", stdout=out
    )
    return _result(*measured, out, work / "lab2prod.log")


def measure_evidently(work: Path, rows: int, timeout: float) -> dict:
    if not EVIDENTLY_PYTHON.exists():
        raise SystemExit(
            f"Evidently's environment is missing ({EVIDENTLY_PYTHON.relative_to(ROOT)}): "
            "UV_PROJECT_ENVIRONMENT=.tools/evidently .tools/bin/uv sync --frozen "
            "--project tools/evidently"
        )
    out = work / "evidently.json"
    args = [
        str(EVIDENTLY_PYTHON),
        str(HERE / "evidently_drift.py"),
        str(work),
        "--rows",
        str(rows),
    ]
    measured = run_measured(args, ROOT, work / "evidently.log", stdout=out, timeout=timeout)
    return _result(*measured, out, work / "evidently.log")


def _result(measured: Measured, cpu: float, out: Path, log: Path) -> dict:
    if measured.returncode != 0 or not out.read_text().strip():
        return {
            "failed": f"exit {measured.returncode}",
            "seconds": measured.seconds,
            "cpu_seconds": cpu,
            "peak_mib": measured.peak_mib,
            "log": log.read_text()[-2000:],
        }
    result = json.loads(out.read_text().strip().splitlines()[-1])
    return {
        **result,
        "wall_seconds": measured.seconds,
        "cpu_seconds": cpu,
        "peak_mib": measured.peak_mib,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="logged predictions")
    parser.add_argument(
        "--evidently-rows",
        type=int,
        default=1_000_000,
        help="rows Evidently gets (a uniform sample of the log when fewer than --rows)",
    )
    parser.add_argument("--evidently-timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument(
        "--transactions", type=int, default=300_000, help="size of the generated world"
    )
    parser.add_argument("--only", choices=["lab2prod", "evidently"], default=None)
    parser.add_argument("--reuse", action="store_true", help="keep the log of the last run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = WORK / "monitoring_drift"

    if args.setup_only:
        (work / "setup.json").write_text(json.dumps(setup(work, args.rows, args.transactions)))
        return 0
    if not (args.reuse and (work / "setup.json").exists()):
        # In a child: the measured children are forked from this process, and a fork's
        # peak RSS counts the parent's pages it started with.
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--setup-only",
                "--rows",
                str(args.rows),
                "--transactions",
                str(args.transactions),
            ],
            check=True,
        )
        print(f"set-up: {time.perf_counter() - started:.0f} s", flush=True)
    info = json.loads((work / "setup.json").read_text())
    load_before = os.getloadavg()[0]
    results = {}
    if args.only in (None, "lab2prod"):
        results["lab2prod"] = measure_lab2prod(work)
        print("lab2prod:", results["lab2prod"], flush=True)
    if args.only in (None, "evidently"):
        rows = min(args.evidently_rows, args.rows)
        results["evidently"] = measure_evidently(work, rows, args.evidently_timeout)
        print("evidently:", results["evidently"], flush=True)
    load_after = os.getloadavg()[0]
    body = report(args, info, results, load_before, load_after)
    print(body)
    if not args.no_write and args.only is None:
        write_section("monitoring_drift", body)
    return 0


def report(args, info, results, load_before: float, load_after: float) -> str:
    lines = [
        "## Monitoring: drift on the prediction log, lab2prod against Evidently",
        "",
        f"`{' '.join(['benchmarks/monitoring/drift_scale.py', *sys.argv[1:]])}`, "
        f"{dt.date.today().isoformat()}, {machine()}. " + load_note(load_before, load_after),
        "",
        f"A log of {args.rows:,} predictions ({len(info['columns'])} monitored columns), the "
        f"month after training ({info['window_rows']:,} generated transactions) resampled; the "
        f"reference: {info['reference_rows']:,} training rows.",
        "",
        "| tool | rows | wall s | CPU s | rows/s (wall) | rows/s (CPU) | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    rates: dict[str, tuple[float, float]] = {}
    for name, result in results.items():
        if "failed" in result:
            lines.append(
                f"| {name} | - | {result['seconds']:.1f} | {result['cpu_seconds']:.1f} | "
                f"{result['failed']} | | {result['peak_mib']:.0f} |"
            )
            continue
        wall = result["rows"] / result["wall_seconds"]
        cpu = result["rows"] / result["cpu_seconds"]
        rates[name] = (wall, cpu)
        sample = " (a sample)" if name == "evidently" and result["rows"] < args.rows else ""
        lines.append(
            f"| {name} | {result['rows']:,}{sample} | {result['wall_seconds']:.1f} | "
            f"{result['cpu_seconds']:.1f} | {wall:,.0f} | {cpu:,.0f} | {result['peak_mib']:.0f} |"
        )
    if len(rates) == 2:
        (ours_wall, ours_cpu), (theirs_wall, theirs_cpu) = rates["lab2prod"], rates["evidently"]
        lines += [
            "",
            f"lab2prod / Evidently rows/s: **{ours_wall / theirs_wall:.0f}x** by wall time, "
            f"{ours_cpu / theirs_cpu:.0f}x by CPU time (target >= 10x; 10M rows < 2 min and "
            "< 4 GiB).",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
