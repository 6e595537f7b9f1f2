"""Scale benchmark: the whole example pipeline at several sizes, time and peak memory per pipeline.

Run with ``make benchmark`` or ``.venv/bin/python benchmarks/pipeline_scale.py [--sizes ...]``.
Each pipeline runs as its own ``kedro run --pipelines NAME`` in a scratch copy of the project under
``benchmarks/.work/``, so peak memory is that pipeline's own. Results replace the
``pipeline_scale`` section of ``docs/benchmarks.md``; the ratios between sizes (measured in the
same run) are what to compare across machines, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from itertools import pairwise

from _common import KEDRO, machine, run_measured, scratch_project, write_section

PIPELINES = ("data_generation", "data_processing", "inference_features", "training", "evaluation")
TRANSACTIONS_PER_CUSTOMER = 30


def _params(n_transactions: int) -> str:
    n_customers = max(n_transactions // TRANSACTIONS_PER_CUSTOMER, 100)
    return (
        f"data_generation.n_transactions={n_transactions},data_generation.n_customers={n_customers}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000, 5_000_000],
        help="numbers of transactions to generate (default: 100k 1M 5M)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args(argv)

    results: dict[int, dict[str, object]] = {}
    for size in args.sizes:
        project = scratch_project(f"scale_{size}")
        results[size] = {}
        for name in PIPELINES:
            cmd = [str(KEDRO), "run", "--pipelines", name, "--params", _params(size)]
            measured = run_measured(cmd, project, project / f"{name}.log")
            results[size][name] = measured
            line = f"{size:>9,} {name:<20} {measured.seconds:8.1f} s {measured.peak_mib:9.0f} MiB"
            print(line, flush=True)
            if measured.returncode != 0:
                print(f"FAILED: see {project / (name + '.log')}", file=sys.stderr)
                return 1

    body = _render(args.sizes, results)
    print(body)
    if not args.no_write:
        write_section("pipeline_scale", body)
    return 0


def _render(sizes: list[int], results: dict[int, dict[str, object]]) -> str:
    lines = [
        "## Pipeline scale",
        "",
        f"`make benchmark` (`benchmarks/pipeline_scale.py`), {dt.date.today()}, {machine()}.",
        "Each pipeline is a separate `kedro run --pipelines NAME`; time is the wall time of that",
        "process (start-up included), memory its peak RSS.",
        "",
        "| pipeline | " + " | ".join(f"{s:,} tx: s / peak MiB" for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    totals = {s: sum(m.seconds for m in results[s].values()) for s in sizes}
    for name in PIPELINES:
        cells = [
            f"{results[s][name].seconds:.1f} / {results[s][name].peak_mib:,.0f}" for s in sizes
        ]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    peak = {s: max(m.peak_mib for m in results[s].values()) for s in sizes}
    lines.append(
        "| **total** | " + " | ".join(f"**{totals[s]:.1f} / {peak[s]:,.0f}**" for s in sizes) + " |"
    )
    lines.append("")
    for small, big in pairwise(sizes):
        lines.append(
            f"- {big:,} / {small:,} transactions ({big / small:.0f}x the data): "
            f"{totals[big] / totals[small]:.2f}x the time."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
