"""Evidently's DataDriftPreset on the prediction log drift_scale.py wrote: the baseline.

Runs in Evidently's own environment (``.tools/evidently``), started by drift_scale.py:
``.tools/evidently/bin/python benchmarks/monitoring/evidently_drift.py WORK [--rows N]``.
Reads the monitored columns of the log (a uniform sample of ``N`` rows when the log holds
more) and the reference rows, runs the preset, prints one JSON line: rows, seconds (reading
included) and how many columns Evidently calls drifted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> int:
    start = time.perf_counter()
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()

    import numpy as np
    import pyarrow.dataset as ds
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference = __import__("pandas").read_parquet(args.work / "reference.parquet")
    columns = list(reference.columns)
    files = sorted(
        str(p)
        for p in (args.work / "prediction_log").rglob("*.parquet")
        if not p.name.startswith(".")
    )
    log = ds.dataset(files, format="parquet")
    total = log.count_rows()
    table = log.to_table(columns=columns)
    if args.rows is not None and args.rows < total:
        take = np.sort(np.random.default_rng(0).choice(total, args.rows, replace=False))
        table = table.take(take)
    current = table.to_pandas()
    del table
    categorical = [
        c
        for c in columns
        if current[c].dtype == object
        or str(current[c].dtype) in ("string", "str", "bool", "category")
    ]
    numerical = [c for c in columns if c not in categorical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
    report = Report([DataDriftPreset()])
    result = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    summary = result.dict()
    seconds = time.perf_counter() - start
    drifted = None
    for metric in summary.get("metrics", []):
        if str(metric.get("metric_name", "")).startswith("DriftedColumnsCount"):
            drifted = metric.get("value", {}).get("count")
    print(json.dumps({"rows": len(current), "seconds": seconds, "drifted": drifted}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
