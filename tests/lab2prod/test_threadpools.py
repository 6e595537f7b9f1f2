"""Native thread pools sized to a process's share of the cores: the setting, the share, the
limit in a running process (every thread that computes), the environment of started ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab2prod import threadpools
from lab2prod.errors import SettingError
from lab2prod.threadpools import (
    SETTING,
    THREAD_VARIABLES,
    available_cores,
    thread_environment,
    threads_per_worker,
    worker_environment,
)


@pytest.mark.parametrize(
    ("workers", "cores", "threads"),
    [(1, 8, 8), (2, 8, 4), (3, 8, 2), (8, 8, 1), (16, 8, 1), (2, 2, 1), (1, 1, 1)],
)
def test_each_worker_gets_its_share_of_the_cores_and_at_least_one(workers, cores, threads):
    """N workers on C cores get C // N threads each, never zero."""
    assert threads_per_worker(workers, cores=cores, environ={}) == threads


def test_the_setting_overrides_the_share():
    """LAB2PROD_THREADS_PER_WORKER wins over the computed share."""
    assert threads_per_worker(8, cores=2, environ={SETTING: " 3 "}) == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_setting_names_the_variable_the_value_and_the_fix(value):
    """A value that is not a count of threads is refused with the variable, its value, the fix."""
    with pytest.raises(SettingError, match=rf"{SETTING}='{value}' is not a number of threads"):
        threads_per_worker(2, cores=2, environ={SETTING: value})


def test_available_cores_are_at_most_the_cpus_this_process_may_use():
    """The share is of the cores the process may run on (affinity), never more."""
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu.max": "max 100000\n"}, None),  # no quota
        ({"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"}, 1),  # cgroup v1
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        ({}, None),
    ],
)
def test_a_containers_cpu_quota_caps_the_cores(tmp_path: Path, monkeypatch, files, cores):
    """A container limited to 1.5 CPUs counts 2 cores, whatever the node has (cgroup v1, v2)."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(threadpools, "_CGROUP", tmp_path)
    affinity = len(os.sched_getaffinity(0))
    assert available_cores() == (affinity if cores is None else min(cores, affinity))


def test_started_processes_get_every_librarys_variable():
    """A process started with the environment sizes OpenMP and every BLAS the same."""
    assert thread_environment(2) == dict.fromkeys(THREAD_VARIABLES, "2")
    assert thread_environment(2)["OMP_NUM_THREADS"] == "2"


def test_a_lone_worker_is_left_alone_unless_the_setting_asks(monkeypatch):
    """One worker sizes its pools as usual; several get their share; the setting always applies."""
    monkeypatch.delenv(SETTING, raising=False)
    assert worker_environment(1) == {}
    assert worker_environment(available_cores() * 2) == thread_environment(1)
    monkeypatch.setenv(SETTING, "3")
    assert worker_environment(1) == thread_environment(3)


LIMITED = """
import json, threading, sys
import sklearn.ensemble  # OpenMP and BLAS loaded before the limit, as in a service that imports
from threadpoolctl import threadpool_info
from lab2prod.threadpools import ThreadPoolLimit, pool_sizes

calls = []
limit = ThreadPoolLimit(1, on_thread=lambda: calls.append(pool_sizes()))
limit.apply()
seen = {"main": pool_sizes()}

def compute(name, enter):
    if enter:
        limit.enter_thread()
        limit.enter_thread()  # once per thread: the second call does nothing
    seen[name] = pool_sizes()

for name, enter in (("entered", True), ("not_entered", False)):
    thread = threading.Thread(target=compute, args=(name, enter))
    thread.start()
    thread.join()
seen["calls"] = calls
import os
seen["env"] = os.environ["OMP_NUM_THREADS"]
print(json.dumps(seen))
"""


@pytest.mark.skipif(available_cores() < 2, reason="a one-core machine has pools of 1 anyway")
def test_a_limit_holds_every_thread_that_enters_it(tmp_path: Path):
    """After apply(), OpenMP already loaded is limited in the calling thread and in each thread
    that enters the limit (OpenMP's limit is per thread: one that does not enter keeps every
    core), BLAS in all; later processes and libraries get the environment."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES and k != SETTING}
    out = subprocess.run(
        [sys.executable, "-c", LIMITED], capture_output=True, text=True, env=env, check=True
    )
    seen = json.loads(out.stdout)

    assert seen["main"] == {"openmp": 1, "blas": 1}
    assert seen["entered"] == {"openmp": 1, "blas": 1}
    assert seen["not_entered"]["openmp"] == available_cores()  # why enter_thread exists
    assert seen["not_entered"]["blas"] == 1
    assert seen["calls"] == [{"openmp": 1, "blas": 1}]  # on_thread: once, in the new thread
    assert seen["env"] == "1"
