"""The parquet log: parts written whole, read back lazily, empty when there is nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow.dataset as ds
import pytest
from kedro.io import DataCatalog

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.log import ParquetLog, ParquetLogDataset, write_part


def part(start: str, rows: int, first_id: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": [f"tx{first_id + i:06d}" for i in range(rows)],
            "timestamp": pd.date_range(start, periods=rows, freq="30min").as_unit("us"),
            "amount": [float(i) for i in range(rows)],
        }
    )


def test_parts_are_read_back_as_one_log_in_batches(tmp_path):
    """Three parts in two day folders read back as every row; a filter keeps what it asks."""
    root = str(tmp_path / "log")
    write_part(root, part("2026-01-01", 30), now=datetime(2026, 1, 1, tzinfo=UTC))
    write_part(root, part("2026-01-02", 30, 30), now=datetime(2026, 1, 2, tzinfo=UTC))
    write_part(root, part("2026-01-03", 30, 60), now=datetime(2026, 1, 2, 12, tzinfo=UTC))

    log = ParquetLog.open(root)

    assert log.parts == 3 and len(log) == 90
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["2026-01-01", "2026-01-02"]
    later = ds.field("timestamp") >= pd.Timestamp("2026-01-03")
    batches = list(log.batches(["transaction_id", "amount"], where=later, batch_rows=20))
    assert sum(len(b) for b in batches) == 30
    assert all(list(b.columns) == ["transaction_id", "amount"] for b in batches)


def test_temporary_and_hidden_files_are_never_read(tmp_path):
    """A part being written (a dot file) or a _SUCCESS marker is not part of the log."""
    root = tmp_path / "log"
    write_part(str(root), part("2026-01-01", 5))
    folder = next(root.iterdir())
    (folder / ".x.parquet.abc.tmp").write_bytes(b"half a part")
    (folder / "_SUCCESS").write_text("")
    part("2026-01-01", 5).to_parquet(folder / ".hidden.parquet")
    assert len(ParquetLog.open(str(root))) == 5


def test_a_missing_folder_is_an_empty_log_that_says_so_when_read(tmp_path):
    """No folder yet: an empty log; reading it names the location."""
    log = ParquetLog.open(str(tmp_path / "nothing"))
    assert log.empty and log.parts == 0
    with pytest.raises(MonitoringError, match="holds no part"):
        list(log.batches(["amount"]))


def test_a_missing_column_is_named(tmp_path):
    """Asking for a column the parts lack names it and what they have."""
    write_part(str(tmp_path), part("2026-01-01", 5))
    with pytest.raises(MonitoringError, match=r"lacks column\(s\) \['score'\]"):
        ParquetLog.open(str(tmp_path)).to_arrow(["score"])


def test_the_catalog_dataset_saves_a_part_and_loads_the_log(tmp_path):
    """As a Kedro catalog entry: save appends a part, load gives the whole log."""
    catalog = DataCatalog.from_config(
        {
            "prediction_log": {
                "type": "lab2prod.monitoring.ParquetLogDataset",
                "path": str(tmp_path / "log"),
            }
        }
    )
    assert not catalog.exists("prediction_log")
    catalog.save("prediction_log", part("2026-01-01", 4))
    catalog.save("prediction_log", part("2026-01-02", 6))
    log = catalog.load("prediction_log")
    assert isinstance(log, ParquetLog) and len(log) == 10
    assert isinstance(catalog.get("prediction_log"), ParquetLogDataset)
