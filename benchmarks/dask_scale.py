"""Dask scale benchmark: the example's pipelines with SequentialRunner and with DaskRunner.

Run with ``.venv/bin/python benchmarks/dask_scale.py [--sizes 1000000 10000000 30000000]``.
For each size and runner, the pipelines run one after the other as separate ``kedro run``
processes in a scratch copy of the project (``benchmarks/.work/``), each on the previous one's
outputs, so time and memory are per pipeline. ``DaskRunner`` starts its own LocalCluster of
2 worker processes (``conf/base/dask.yml``), so its times include the cluster's start.

Memory is the peak of the summed resident memory of the ``kedro`` process and every process
under it (Dask's nannies and workers, notebook kernels), sampled every 0.2 s: what the machine
must hold. Results replace the ``dask_scale`` section of ``docs/benchmarks.md``, with the load
average before and after; compare the ratios within one run, not seconds across machines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from _common import KEDRO, ROOT, machine, scratch_project, write_section

# Each step is one `kedro run --pipelines ...`; together they are `__default__` but packaging
# (which writes to the BentoML model store). Steps marked True have independent branches that two
# workers can run at once: customer_profiles beside data_processing (both read raw_transactions),
# the model beside the baseline, the evaluation's metrics, plots, importance and report.
STEPS: tuple[tuple[str, bool], ...] = (
    ("data_generation", False),
    ("data_processing,customer_profiles", True),
    ("inference_features", False),
    ("training", True),
    ("evaluation", True),
)
RUNNERS = {"sequential": [], "dask": ["--runner", "lab2prod.runner.DaskRunner"]}
TRANSACTIONS_PER_CUSTOMER = 30


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mib: float
    returncode: int


def _params(n_transactions: int) -> str:
    n_customers = max(n_transactions // TRANSACTIONS_PER_CUSTOMER, 100)
    return (
        f"data_generation.n_transactions={n_transactions},data_generation.n_customers={n_customers}"
    )


def run_tree_measured(args: list[str], cwd: Path, log: Path) -> Measured:
    """Run a command; its wall time and the peak summed RSS of it and all its descendants."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "BENTOML_DO_NOT_TRACK": "true"}
    peak = 0
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            root = psutil.Process(proc.pid)
            while not done.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    return
                total = 0
                for process in tree:
                    try:
                        total += process.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                peak = max(peak, total)
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = proc.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    return Measured(seconds, peak / 2**20, returncode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000_000, 10_000_000, 30_000_000],
        help="numbers of transactions (default: 1M 10M 30M)",
    )
    parser.add_argument(
        "--dask-params",
        default="",
        help="--runner-params for DaskRunner, e.g. memory_limit=0 (no per-worker memory limit)",
    )
    parser.add_argument(
        "--runners", nargs="+", choices=RUNNERS, default=list(RUNNERS), help="(default: both)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args(argv)
    runners = {name: RUNNERS[name] for name in args.runners}
    if args.dask_params and "dask" in runners:
        runners["dask"] = [*RUNNERS["dask"], "--runner-params", args.dask_params]

    load_before = Path("/proc/loadavg").read_text().split()[0]
    results: dict[tuple[int, str, str], Measured] = {}
    failures: list[str] = []
    for size in args.sizes:
        for runner, runner_args in runners.items():
            project = scratch_project(f"dask_scale_{size}_{runner}")
            for step, _ in STEPS:
                log = project / f"{step.replace(',', '+')}.log"
                cmd = [str(KEDRO), "run", "--pipelines", step, *runner_args]
                measured = run_tree_measured([*cmd, "--params", _params(size)], project, log)
                results[size, runner, step] = measured
                print(
                    f"{size:>11,} {runner:<10} {step:<36} {measured.seconds:8.1f} s "
                    f"{measured.peak_mib:9.0f} MiB rc={measured.returncode}",
                    flush=True,
                )
                if measured.returncode != 0:
                    where = log.relative_to(ROOT)
                    code = measured.returncode
                    failures.append(f"{size:,} {runner} {step}: exit {code}, {where}")
                    break  # the next steps need this one's outputs
    load_after = Path("/proc/loadavg").read_text().split()[0]

    body = _render(args.sizes, results, failures, load_before, load_after, args.dask_params)
    print(body)
    if not args.no_write:
        write_section("dask_scale", body)
    return 1 if failures else 0


def _render(
    sizes: list[int],
    results: dict[tuple[int, str, str], Measured],
    failures: list[str],
    load_before: str,
    load_after: str,
    dask_params: str = "",
) -> str:
    def cell(size: int, runner: str, step: str) -> str:
        m = results.get((size, runner, step))
        if m is None:
            return "not run"
        if m.returncode != 0:
            return f"failed ({m.seconds:.0f} s, {m.peak_mib:,.0f} MiB)"
        return f"{m.seconds:.1f} / {m.peak_mib:,.0f}"

    header = " | ".join(f"{s:,} tx {r}: s / peak MiB" for s in sizes for r in RUNNERS)
    lines = [
        "## Dask scale",
        "",
        f"`benchmarks/dask_scale.py --sizes {' '.join(map(str, sizes))}"
        + (f" --dask-params {dask_params}" if dask_params else "")
        + f"`, {dt.date.today()}, "
        f"{machine()}; 1-minute load average {load_before} before, {load_after} after.",
        "Each step is a separate `kedro run --pipelines STEP`, with SequentialRunner or with",
        "DaskRunner on its own LocalCluster of 2 worker processes (start-up included); memory is",
        "the peak summed RSS of the kedro process and all processes under it.",
        "",
        f"| step | {header} |",
        "|---|" + "---|" * (len(sizes) * len(RUNNERS)),
    ]
    for step, _ in STEPS:
        cells = [cell(s, r, step) for s in sizes for r in RUNNERS]
        lines.append(f"| `{step}` | " + " | ".join(cells) + " |")
    totals = []
    for size in sizes:
        for runner in RUNNERS:
            measured = [results.get((size, runner, step)) for step, _ in STEPS]
            if all(m is not None and m.returncode == 0 for m in measured):
                seconds = sum(m.seconds for m in measured)
                peak = max(m.peak_mib for m in measured)
                totals.append(f"**{seconds:.1f} / {peak:,.0f}**")
            else:
                totals.append("**incomplete**")
    lines.append("| **end to end** | " + " | ".join(totals) + " |")
    lines.append("")
    for size in sizes:
        ratios = []
        for step, branches in STEPS:
            seq, dask = results.get((size, "sequential", step)), results.get((size, "dask", step))
            if seq and dask and seq.returncode == dask.returncode == 0:
                mark = " (independent branches)" if branches else ""
                ratios.append(f"`{step}`{mark} {seq.seconds / dask.seconds:.2f}x")
        if ratios:
            lines.append(f"- {size:,} tx, sequential time / Dask time: " + "; ".join(ratios) + ".")
    for failure in failures:
        lines.append(f"- Failed: {failure}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
