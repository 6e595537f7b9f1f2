"""The service records what it scores: the prediction log and the live drift gauges, on a real
``bentoml serve`` with its default two workers.

One server for the module: clean transactions, then transactions of the generator's
``amount_inflation`` scenario (which ``kedro monitor check`` then finds in the log), then a
SIGTERM under load (the last test: it stops the server).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fraud_detection.request import EXAMPLE_TRANSACTION
from lab2prod import threadpools
from lab2prod.monitoring.log import ParquetLog
from tests.conftest import KEDRO, ROOT, stop_process_group
from tests.pipelines.monitoring.conftest import SMALL, TRAINED_UNTIL, transactions
from tests.serving.conftest import PackagedModel
from tests.serving.server import (
    BENTOML,
    SERVICE,
    _wait_ready,
    free_port,
    request_records,
    serving_env,
)

pytestmark = pytest.mark.slow

PER_REQUEST = 250
CLEAN_ROWS = 3_000
DRIFTED_ROWS = 9_000
"""Three times the clean rows: the window mixes both, drifted by three quarters."""


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    prediction_log: Path


@pytest.fixture(scope="module")
def server(packaged_model: PackagedModel, tmp_path_factory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("recording")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prediction_log = work / "prediction_log"
    log = work / "bentoml.log"
    env = serving_env(packaged_model.home, FRAUD_DETECTION_PREDICTION_LOG=str(prediction_log))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BENTOML), "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(url, process, log, 120)
        yield Server(url, process, log, prediction_log)
    finally:
        stop_process_group(process)


def after_training(frame: pd.DataFrame) -> pd.DataFrame:
    times = frame["timestamp"]
    later = times >= times.min() + (times.max() - times.min()) * TRAINED_UNTIL
    return frame[later].reset_index(drop=True)


@pytest.fixture(scope="module")
def clean(packaged_model: PackagedModel) -> list[dict[str, Any]]:
    """Transactions of the trained world after its training period."""
    frame = pd.read_parquet(packaged_model.project / "data/04_feature/scoring_input.parquet")
    return request_records(after_training(frame).head(CLEAN_ROWS))


@pytest.fixture(scope="module")
def drifted() -> list[dict[str, Any]]:
    """The same world generated again with amount_inflation from the end of training on."""
    frame = transactions(
        **SMALL,
        drift={"scenario": "amount_inflation", "start": TRAINED_UNTIL, "strength": 1.5},
    )
    records = request_records(after_training(frame).head(DRIFTED_ROWS))
    for record in records:  # new ids: another draw of the same period
        record["transaction_id"] = "drift-" + record["transaction_id"]
    return records


def send(url: str, records: list[dict[str, Any]]) -> int:
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(records), PER_REQUEST):
            body = {"transactions": records[start : start + PER_REQUEST]}
            response = client.post("/predict", json=body)
            assert response.status_code == 200, response.text
    return len(records)


def gauges(url: str) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return {
        (sample.name, sample.labels.get("column", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("fraud_detection_drift") and "bin" not in sample.labels
    }


def wait_for_rows(url: str, rows: int, timeout: float = 60) -> dict[tuple[str, str], float]:
    """The gauges once every worker has published a window of ``rows`` rows."""
    deadline = time.monotonic() + timeout
    while True:
        values = gauges(url)
        if values.get(("fraud_detection_drift_window_rows", "")) == rows:
            return values
        assert time.monotonic() < deadline, f"the live window never held {rows} rows: {values}"
        time.sleep(0.5)


def test_live_amount_gauge_stays_under_its_threshold_for_clean_traffic_and_crosses_it_drifted(
    server, clean, drifted
):
    """Clean transactions: amount's PSI under its calibrated threshold, not drifted. Then the
    generator's amount_inflation: over it, drifted, merged across both workers."""
    sent = send(server.url, clean)
    before = wait_for_rows(server.url, sent)

    assert before[("fraud_detection_drift_workers", "")] == threadpools.available_cores()
    assert (
        before[("fraud_detection_drift_psi", "amount")]
        < before[("fraud_detection_drift_threshold", "amount")]
    )
    assert before[("fraud_detection_drift_drifted", "amount")] == 0

    sent += send(server.url, drifted)
    after = wait_for_rows(server.url, sent)

    assert (
        after[("fraud_detection_drift_psi", "amount")]
        > after[("fraud_detection_drift_threshold", "amount")]
    )
    assert after[("fraud_detection_drift_drifted", "amount")] == 1
    assert after[("fraud_detection_drift_drifted", "customer_age")] == 0


def test_every_scored_transaction_is_logged_with_its_score_request_id_and_model(
    server, clean, packaged_model
):
    """The log holds the clean transactions with the score and decision each response gave,
    the request's id, the model's tag (written within the flush interval, not at shutdown)."""
    records = [{**r, "transaction_id": "logged-" + r["transaction_id"]} for r in clean[:20]]
    response = httpx.post(
        f"{server.url}/predict",
        json={"transactions": records},
        headers={"X-Request-ID": "req-42"},
        timeout=30,
    )
    assert response.status_code == 200
    answered = {p["transaction_id"]: p for p in response.json()["predictions"]}

    deadline = time.monotonic() + 60
    while True:
        log = ParquetLog.open(str(server.prediction_log))
        frame = log.to_arrow(log.columns).to_pandas() if not log.empty else pd.DataFrame()
        mine = frame[frame["transaction_id"].isin(answered)] if len(frame) else frame
        if len(mine) == len(answered):
            break
        assert time.monotonic() < deadline, "the answered transactions never reached the log"
        time.sleep(0.5)

    assert (mine["request_id"] == "req-42").all()
    assert (mine["model"] == packaged_model.tag).all()
    for row in mine.itertuples():
        assert row.fraud_probability == answered[row.transaction_id]["fraud_probability"]
        assert row.is_fraud == answered[row.transaction_id]["is_fraud"]
        assert (
            row.amount
            == next(r for r in records if r["transaction_id"] == row.transaction_id)["amount"]
        )


def test_kedro_monitor_check_on_the_services_log_flags_the_inflated_amounts(
    server, packaged_model, clean, drifted
):
    """What the service logged is what `kedro monitor check` reads: exit 3, amount drifted
    (the log of the clean and the amount_inflation transactions sent above)."""
    sent = {r["transaction_id"] for r in clean} | {r["transaction_id"] for r in drifted}
    deadline = time.monotonic() + 60
    while True:
        log = ParquetLog.open(str(server.prediction_log))
        ids = set(log.to_arrow(["transaction_id"]).column("transaction_id").to_pylist())
        if sent <= ids:
            break
        assert time.monotonic() < deadline, f"{len(sent - ids)} sent transactions not logged"
        time.sleep(0.5)
    env = f"served_{os.getpid()}"
    conf = packaged_model.project / "conf" / env
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "catalog.yml").write_text(
        "prediction_log:\n"
        "  type: lab2prod.monitoring.ParquetLogDataset\n"
        f"  path: {server.prediction_log}\n"
        # No labels: the shared project's own (other tests write some) would add a decay verdict.
        "labels:\n"
        "  type: lab2prod.monitoring.ParquetLogDataset\n"
        f"  path: {conf / 'no_labels'}\n"
    )
    try:
        result = subprocess.run(
            [str(KEDRO), "monitor", "check", "--all-rows", "--env", env],
            cwd=packaged_model.project,
            env=serving_env(packaged_model.home, COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(conf)

    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]
    assert any(line.startswith("drift: amount (input)") for line in result.stdout.splitlines())


async def _load(url: str, clients: int, seconds: float, signal_at: float, pid: int) -> list[str]:
    """Closed-loop clients, each request with new transaction ids; SIGTERM to ``pid`` at
    ``signal_at``. Returns the transaction ids of every 200 answer."""
    answered: list[str] = []
    counter = iter(range(10**9))
    example = EXAMPLE_TRANSACTION
    stop_at = time.monotonic() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while time.monotonic() < stop_at:
                ids = [f"sigterm-{next(counter):08d}" for _ in range(5)]
                body = {"transactions": [{**example, "transaction_id": i} for i in ids]}
                try:
                    response = await http.post("/predict", json=body)
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                if response.status_code == 200:
                    answered.extend(p["transaction_id"] for p in response.json()["predictions"])

    async def terminate() -> None:
        await asyncio.sleep(signal_at)
        os.kill(pid, signal.SIGTERM)

    await asyncio.gather(terminate(), *(client() for _ in range(clients)))
    return answered


def test_a_sigterm_under_load_loses_no_record_it_answered(server):
    """SIGTERM while 8 clients send: once the server has exited, every transaction of every
    200 it sent is in the log (this stops the module's server: the last test)."""
    answered = asyncio.run(_load(server.url, 8, 6.0, 2.0, server.process.pid))
    server.process.wait(timeout=60)

    log = ParquetLog.open(str(server.prediction_log))
    logged = set(log.to_arrow(["transaction_id"]).column("transaction_id").to_pylist())
    assert len(answered) > 100
    missing = [i for i in answered if i not in logged]
    assert not missing, f"{len(missing)} of {len(answered)} answered records not logged"
    assert "Running cleanup hook: close_prediction_log" in server.log.read_text()
