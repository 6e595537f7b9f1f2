"""Start-up cost of the lab2prod plugin: ``kedro --version`` in the project, with and without it.

Run with ``.venv/bin/python benchmarks/cli_startup.py [--runs N]``. Both variants go through the
same small launcher, which hides lab2prod's entry points in the baseline, and alternate run by
run so machine noise hits both alike. The result (medians and the difference) replaces the
``cli_startup`` section of ``docs/benchmarks.md``. Target: the plugin adds at most 0.1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time

from _common import ROOT, machine, write_section

LAUNCHER = """
import sys
import kedro.framework.cli.utils as utils
if sys.argv[1] == "without":
    _found = utils._get_entry_points
    utils._get_entry_points = lambda name: [
        e for e in _found(name) if not e.value.startswith("lab2prod")
    ]
sys.argv = ["kedro", "--version"]
from kedro.framework.cli import main
main()
"""


def _time_once(variant: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", LAUNCHER, variant],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={"KEDRO_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin"},
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs alone")
    args = parser.parse_args(argv)

    _time_once("with")  # warm the file cache once
    times: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(args.runs):
        for variant in times:
            times[variant].append(_time_once(variant))
    without, with_ = (statistics.median(times[v]) for v in ("without", "with"))
    body = "\n".join(
        [
            "## CLI start-up",
            "",
            f"`benchmarks/cli_startup.py`, {dt.date.today()}, {machine()}.",
            f"`kedro --version` in the project, median of {args.runs} alternating runs each.",
            "",
            "| variant | median s |",
            "|---|---|",
            f"| plain Kedro (lab2prod's entry points hidden) | {without:.3f} |",
            f"| with lab2prod | {with_:.3f} |",
            f"| **lab2prod adds** | **{with_ - without:+.3f} s ({with_ / without:.2f}x)** |",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("cli_startup", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
