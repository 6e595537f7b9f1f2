"""Helpers shared by the benchmarks: scratch projects, timed child processes, the results page."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / ".work"
RESULTS = ROOT / "docs" / "benchmarks.md"
KEDRO = ROOT / ".venv" / "bin" / "kedro"
LAYERS = tuple(sorted(p.name for p in (ROOT / "data").iterdir() if p.is_dir()))


@dataclass(frozen=True)
class Measured:
    """Wall time and peak resident memory of one child process."""

    seconds: float
    peak_mib: float
    returncode: int


def scratch_project(name: str) -> Path:
    """A fresh copy of the project's configuration with empty data folders, under ``.work/``."""
    path = WORK / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    shutil.copytree(ROOT / "conf", path / "conf", ignore=shutil.ignore_patterns("local"))
    (path / "conf" / "local").mkdir()
    (path / "src").mkdir()  # Kedro insists on the source dir; the packages come installed.
    shutil.copytree(ROOT / "notebooks", path / "notebooks")  # the report runs as a node
    for name_ in ("pyproject.toml", ".telemetry"):
        shutil.copy(ROOT / name_, path / name_)
    for layer in LAYERS:
        (path / "data" / layer).mkdir(parents=True)
    return path


def run_measured(args: list[str], cwd: Path, log: Path) -> Measured:
    """Run a command, return its wall time and its own peak RSS (``wait4``, not the tree's max)."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "BENTOML_DO_NOT_TRACK": "true"}
    with log.open("w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(seconds, usage.ru_maxrss / 1024, proc.returncode)


QUIET_LOAD = 1.5
"""The 1-minute load average at or under which the machine counts as quiet before a run."""


def load_note(before: float, after: float) -> str:
    """The results page's sentence on the 1-minute load around a run.

    Quiet is judged by the load before the run alone: the load after includes the benchmark's
    own work (it may keep both cores busy).
    """
    verdict = (
        "."
        if before <= QUIET_LOAD
        else f": above {QUIET_LOAD} before, other work shared the cores: **not a result**."
    )
    return (
        f"1-minute load average {before:.2f} before, {after:.2f} after "
        f"(its own work included){verdict}"
    )


def machine() -> str:
    """One line describing this machine, for the results page."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def write_section(name: str, body: str) -> None:
    """Replace the section ``name`` of ``docs/benchmarks.md`` with ``body``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{block}\n"
    )
    RESULTS.write_text(text)
