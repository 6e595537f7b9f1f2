"""Cache benchmark: what `kedro run --cache` saves, and what its bookkeeping costs.

Run with ``.venv/bin/python benchmarks/cache.py [--size 1000000] [--repeats 2]``. In scratch
copies of the project under ``benchmarks/.work/``, each measurement a separate ``kedro run`` of
the default pipeline at ``--size`` transactions:

1. bookkeeping: cold runs (empty data folders) with the run manifest and cache records off
   (``LAB2PROD_LINEAGE=off``, the baseline) and with ``--cache`` (manifest, fingerprints,
   records and decisions), alternated ``--repeats`` times; the overhead is the ratio of the
   medians, target <= 5 %;
2. a second ``--cache`` run with nothing changed, against the cold ``--cache`` run: target
   >= 10x faster;
3. a ``--cache`` run after one evaluation parameter changed (``evaluation.importance_repeats``,
   read by ``choose_threshold`` and ``compute_feature_importance`` through the ``evaluation``
   group; it changes the feature importance only): which nodes ran, target evaluation's only.

The 1-minute load average is printed before and after: above 1.5 before, the numbers are not a
result (the load after includes the benchmark's own runs).
Results replace the ``cache`` section of ``docs/benchmarks.md`` unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
from pathlib import Path

from _common import KEDRO, load_note, machine, run_measured, scratch_project, write_section

TRANSACTIONS_PER_CUSTOMER = 30


def _params(size: int, extra: str = "") -> str:
    customers = max(size // TRANSACTIONS_PER_CUSTOMER, 100)
    merchants = max(customers // 5, 50)
    params = (
        f"data_generation.n_transactions={size},data_generation.n_customers={customers},"
        f"data_generation.n_merchants={merchants}"
    )
    return f"{params},{extra}" if extra else params


def _run(project: Path, name: str, *args: str, lineage: bool = True) -> float:
    if lineage:
        os.environ.pop("LAB2PROD_LINEAGE", None)
    else:
        os.environ["LAB2PROD_LINEAGE"] = "off"
    try:
        measured = run_measured([str(KEDRO), "run", *args], project, project / f"{name}.log")
    finally:
        os.environ.pop("LAB2PROD_LINEAGE", None)
    if measured.returncode != 0:
        sys.exit(f"{name} failed: see {project / (name + '.log')}")
    print(f"{name:<28} {measured.seconds:8.1f} s", flush=True)
    return measured.seconds


def _latest_manifest(project: Path) -> dict:
    runs = sorted((project / "data" / "09_tracking" / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text())


def _load() -> float:
    return os.getloadavg()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="transactions (default 1M)")
    parser.add_argument("--repeats", type=int, default=2, help="cold runs of each kind")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args(argv)
    os.environ.setdefault("BENTOML_HOME", str(Path(__file__).parent / ".work" / "bentoml"))
    params = _params(args.size)
    load_before = _load()
    print(f"load average (1 min) before: {load_before:.2f}")

    baseline, cached_cold = [], []
    project = scratch_project("cache")
    for repeat in range(args.repeats):
        plain = scratch_project("cache_plain")
        baseline.append(
            _run(plain, f"cold, lineage off #{repeat + 1}", "--params", params, lineage=False)
        )
        project = scratch_project("cache")
        cached_cold.append(
            _run(project, f"cold, --cache #{repeat + 1}", "--cache", "--params", params)
        )
    warm = _run(project, "warm, --cache, no change", "--cache", "--params", params)
    warm_manifest = _latest_manifest(project)
    changed = _run(
        project,
        "--cache, evaluation changed",
        "--cache",
        "--params",
        _params(args.size, "evaluation.importance_repeats=2"),
    )
    changed_manifest = _latest_manifest(project)
    load_after = _load()
    print(f"load average (1 min) after: {load_after:.2f}")

    cold = statistics.median(cached_cold)
    base = statistics.median(baseline)
    ran = sorted(n for n, e in changed_manifest["nodes"].items() if e["status"] == "ran")
    cached_warm = warm_manifest["cache"]
    body = "\n".join(
        [
            "## Cache (`kedro run --cache`)",
            "",
            f"`benchmarks/cache.py --size {args.size} --repeats {args.repeats}`, "
            f"{dt.date.today()}, {machine()}.",
            load_note(load_before, load_after),
            "",
            "| measure | value | target |",
            "|---|---|---|",
            f"| cold run, lineage off (median of {args.repeats}) | {base:.1f} s | baseline |",
            f"| cold run, `--cache` (median of {args.repeats}) | {cold:.1f} s | "
            f"<= {base * 1.05:.1f} s |",
            f"| bookkeeping overhead | {100 * (cold / base - 1):+.1f} % | <= 5 % |",
            f"| second run, nothing changed | {warm:.1f} s ({cached_warm['cached']} of "
            f"{cached_warm['nodes']} nodes cached, decided in {cached_warm['decided_in_s']} s) "
            "| |",
            f"| speed-up of the second run | {cold / warm:.1f}x | >= 10x |",
            f"| after `evaluation.importance_repeats` changed | {changed:.1f} s, ran: "
            f"{', '.join(ran)} | evaluation only |",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("cache", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
