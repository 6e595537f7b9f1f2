"""Helpers of the serving tests: a throwaway BentoML home, a real ``bentoml serve`` on loopback.

Imported by the conftests that need a BentoML model store, so each of their test subtrees can run
alone. (The suite-wide place for ``isolate_bentoml_home`` is tests/conftest.py's
``pytest_configure``.)
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from tests.conftest import stop_process_group

BENTOML = Path(sys.executable).with_name("bentoml")
SERVICE = "fraud_detection.service:FraudDetection"
"""What `bentoml serve` is given when serving from source (as in bentofile.yaml)."""
_HOME_PREFIX = "lab2prod-tests-bentoml-"


def isolate_bentoml_home() -> None:
    """Point ``BENTOML_HOME`` of this process and every process it starts at a temporary folder,
    removed when the session ends.

    The suite must never write to a user's model store (``~/bentoml`` or their own
    ``BENTOML_HOME``): ``kedro run`` now ends by saving a model there. Idempotent.
    """
    if Path(os.environ.get("BENTOML_HOME", "")).name.startswith(_HOME_PREFIX):
        return
    home = tempfile.mkdtemp(prefix=_HOME_PREFIX)
    os.environ["BENTOML_HOME"] = home
    # At exit, not at pytest's cleanup: BentoML touches its home again while the interpreter
    # shuts down, and atexit handlers run last-registered first.
    atexit.register(shutil.rmtree, home, ignore_errors=True)


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serving_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a BentoML process: telemetry off, ``home`` as its store, and the
    service's prediction log in ``home`` too (never in the checkout's data folder)."""
    return {
        **os.environ,
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "true",
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "FRAUD_DETECTION_PREDICTION_LOG": str(home / "prediction_log"),
        **extra,
    }


@contextmanager
def bentoml_serve(
    target: str,
    *,
    home: Path,
    cwd: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[str]:
    """Run ``bentoml serve target`` on 127.0.0.1 until the block ends; yield its base URL.

    Readiness is polled on ``/readyz``. The server (and its workers: it runs in a process group
    of its own) is always stopped, first politely, then by force.

    Raises:
        AssertionError: If the server exits or is not ready within ``timeout`` seconds, with the
            end of its log.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BENTOML), "serve", target, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=serving_env(home, **(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(url, process, log, timeout)
        yield url
    finally:
        stop_process_group(process)


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"bentoml serve exited with {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"bentoml serve not ready after {timeout:.0f} s:\n{_tail(log)}")


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def request_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a ``scoring_input``-shaped frame as JSON-ready request records.

    Floats stay Python floats (``json`` writes them exactly: no rounding like ``to_json``'s),
    timestamps become ISO strings; the label is dropped.
    """
    records = frame.drop(columns=["is_fraud"], errors="ignore").to_dict("records")
    for record in records:
        for key, value in record.items():
            if isinstance(value, pd.Timestamp):
                record[key] = value.isoformat()
    return records
