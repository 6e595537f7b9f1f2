"""The serving worker's prediction log: batches buffered, written whole in the background."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from lab2prod.monitoring.log import ParquetLog
from lab2prod.monitoring.sink import PredictionSink


def scored(first: int, rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"tx{first + i:06d}" for i in range(rows)]
    inputs = pd.DataFrame(
        {"transaction_id": ids, "amount": [float(first + i) for i in range(rows)]}
    )
    outputs = pd.DataFrame(
        {"transaction_id": ids, "fraud_probability": [0.5] * rows, "is_fraud": [True] * rows}
    )
    return inputs, outputs


def logged(path) -> pd.DataFrame:
    log = ParquetLog.open(str(path))
    return log.to_arrow(log.columns).to_pandas() if not log.empty else pd.DataFrame()


def test_every_row_added_is_in_the_log_after_close_with_its_extra_columns(tmp_path):
    """Batches of any size, then close: each row once, inputs and outputs side by side, the
    extra columns given per row or once per batch."""
    sink = PredictionSink(str(tmp_path / "log"), max_rows=1_000, max_seconds=60).start()
    for first, rows in [(0, 1), (1, 7), (8, 250)]:
        inputs, outputs = scored(first, rows)
        sink.add(inputs, outputs, model="m:1", request_id=[f"r{first}"] * rows)
    sink.close()

    frame = logged(tmp_path / "log")
    assert sorted(frame["transaction_id"]) == [f"tx{i:06d}" for i in range(258)]
    assert set(frame.columns) == {
        "transaction_id",
        "amount",
        "fraud_probability",
        "is_fraud",
        "model",
        "request_id",
    }
    assert (frame["model"] == "m:1").all()
    assert frame.loc[frame["transaction_id"] == "tx000009", "request_id"].item() == "r8"
    assert sink.written == 258 and sink.dropped == 0


def test_parts_are_written_on_size_and_on_time_without_waiting_for_close(tmp_path):
    """max_rows waiting writes a part at once; a trickle is written after max_seconds."""
    sink = PredictionSink(str(tmp_path / "log"), max_rows=100, max_seconds=0.5).start()
    try:
        sink.add(*scored(0, 150))
        deadline = time.monotonic() + 10
        while sink.written < 150:
            assert time.monotonic() < deadline, "the full buffer was not written"
            time.sleep(0.02)
        sink.add(*scored(150, 3))
        deadline = time.monotonic() + 10
        while sink.written < 153:
            assert time.monotonic() < deadline, "the trickle was not written on time"
            time.sleep(0.05)
        assert ParquetLog.open(str(tmp_path / "log")).parts == 2
    finally:
        sink.close()


def test_add_returns_at_once_however_slow_the_store(tmp_path, monkeypatch):
    """A store that takes a second per part never holds up the scoring thread."""
    import lab2prod.monitoring.sink as sink_module

    real = sink_module.write_part

    def slow(*args, **kwargs):
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(sink_module, "write_part", slow)
    sink = PredictionSink(str(tmp_path / "log"), max_rows=10, max_seconds=0.1).start()
    slowest = 0.0
    for first in range(0, 400, 20):
        started = time.perf_counter()
        sink.add(*scored(first, 20))
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.01)
    sink.close()

    assert slowest < 0.05
    assert len(logged(tmp_path / "log")) == 400


def test_a_store_that_fails_keeps_the_rows_and_writes_them_once_it_works(tmp_path, monkeypatch):
    """A failed write loses nothing: the rows are retried, then written."""
    import lab2prod.monitoring.sink as sink_module

    real = sink_module.write_part
    failures = [OSError("disk full")] * 2

    def flaky(*args, **kwargs):
        if failures:
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(sink_module, "write_part", flaky)
    sink = PredictionSink(str(tmp_path / "log"), max_rows=10, max_seconds=60)
    sink.add(*scored(0, 10))
    assert sink.flush() == 0 and sink.flush() == 0
    assert sink.flush() == 10
    assert len(logged(tmp_path / "log")) == 10


def test_past_its_bound_a_store_that_stays_down_drops_the_oldest_and_counts_them(tmp_path):
    """The buffer never grows without bound: the oldest batches go, counted."""
    dropped: list[int] = []
    sink = PredictionSink(
        str(tmp_path / "not-a-folder" / "log"),
        max_rows=10,
        max_seconds=60,
        max_buffered_rows=30,
        on_drop=dropped.append,
    )
    (tmp_path / "not-a-folder").write_text("a file where the folder should be")
    for first in range(0, 50, 10):
        sink.add(*scored(first, 10))
        sink.flush()
    assert sink.dropped == sum(dropped) == 20


def test_bad_bounds_are_refused_with_the_values():
    """A sink that could never write is refused at once."""
    with pytest.raises(ValueError, match="max_rows >= 1"):
        PredictionSink("log", max_rows=0)


@pytest.fixture
def s3(tmp_path, monkeypatch):
    """A real moto_server on loopback with a bucket, and the environment a service would get:
    AWS keys and fsspec's endpoint setting (``FSSPEC_S3_ENDPOINT_URL``), nothing in code."""
    import subprocess
    import sys
    from pathlib import Path

    import boto3
    import fsspec.config
    import httpx

    from tests.conftest import stop_process_group
    from tests.serving.server import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    with (tmp_path / "moto.log").open("wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("moto_server")),
                "-H",
                "127.0.0.1",
                "-p",
                endpoint.rsplit(":", 1)[1],
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=2.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "moto.log").read_text()
                time.sleep(0.1)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "key",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "FSSPEC_S3_ENDPOINT_URL": endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(fsspec.config, "conf", {})
        fsspec.config.set_conf_env(fsspec.config.conf)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="logs")
        yield endpoint
    finally:
        stop_process_group(process)


def test_a_log_on_s3_is_written_and_read_back_with_settings_from_the_environment(s3):
    """s3://bucket/prefix with credentials and endpoint from the environment, as the service
    runs: parts put whole, every row read back."""
    import fsspec

    fsspec.filesystem("s3").invalidate_cache()
    sink = PredictionSink("s3://logs/prediction_log", max_rows=100, max_seconds=60).start()
    sink.add(*scored(0, 150), model="m:1")
    sink.add(*scored(150, 50), model="m:1")
    sink.close()

    frame = logged("s3://logs/prediction_log")
    assert sorted(frame["transaction_id"]) == [f"tx{i:06d}" for i in range(200)]


def test_a_store_whose_package_is_missing_is_refused_at_start():
    """A protocol fsspec knows but cannot use here fails at start-up, naming the fix."""
    from lab2prod.errors import MonitoringError

    with pytest.raises(MonitoringError, match=r"cannot be written: .*Install"):
        PredictionSink("gcs://bucket/log").start()


def test_queued_batches_are_merged_between_parts_and_written_as_they_were(tmp_path):
    """Between parts, the writer merges what is queued into one batch (small batches held for
    seconds cost more memory than their rows); the part holds the same rows and columns."""
    sink = PredictionSink(str(tmp_path / "log"), max_rows=1_000, max_seconds=60)
    for first in range(0, 30, 3):
        sink.add(*scored(first, 3), model="m:1", request_id=[f"r{first}"] * 3)
    sink._drain(write=False)
    assert len(sink._pending) == 1 and sink._pending[0].rows == 30
    sink.add(*scored(30, 2), model="m:2")
    sink.close()

    frame = logged(tmp_path / "log").sort_values("transaction_id")
    assert list(frame["transaction_id"]) == [f"tx{i:06d}" for i in range(32)]
    assert list(frame["model"]) == ["m:1"] * 30 + ["m:2"] * 2
    assert frame["request_id"].iloc[4] == "r3" and pd.isna(frame["request_id"].iloc[31])


def test_batches_as_frames_or_as_columns_are_logged_as_one_frame_of_their_rows_would_be(
    tmp_path,
):
    """Frames, or what a service hands over (a mapping of column name to array: the scorer's
    typed columns), merged then written: the part is the table pandas and pyarrow make of one
    frame of all the rows (same columns, types and values; scored_at a UTC timestamp)."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    sizes = [(0, 2), (2, 5), (7, 1)]
    expected = []
    for first, rows in sizes:
        inputs, outputs = scored(first, rows)
        inputs = inputs.assign(
            at=pd.Timestamp("2026-01-01").as_unit("us"),
            count=pd.array([None] + [1] * (rows - 1), dtype="Int64"),
        )
        expected.append(
            inputs.join(outputs.drop(columns="transaction_id")).assign(
                model="m:1", scored_at=when, request_id=[f"r{first}"] * rows
            )
        )
    expected = pa.Table.from_pandas(pd.concat(expected, ignore_index=True), preserve_index=False)

    for kind in ("frames", "columns"):
        sink = PredictionSink(str(tmp_path / kind), max_rows=1_000, max_seconds=60)
        for first, rows in sizes:
            inputs, outputs = scored(first, rows)
            inputs = inputs.assign(
                at=pd.Timestamp("2026-01-01").as_unit("us"),
                count=pd.array([None] + [1] * (rows - 1), dtype="Int64"),
            )
            if kind == "columns":
                inputs = {
                    name: s.to_numpy() if isinstance(s.dtype, np.dtype) else s.array
                    for name, s in inputs.items()
                }
            sink.add(inputs, outputs, model="m:1", scored_at=when, request_id=[f"r{first}"] * rows)
            sink._drain(write=False)  # merged as it goes, as the writer does every second
        sink.close()
        (part,) = ParquetLog.open(str(tmp_path / kind)).dataset.files
        table = pq.read_table(part).replace_schema_metadata()

        assert table.schema == expected.schema.remove_metadata(), kind
        assert table.equals(expected.replace_schema_metadata()), kind
