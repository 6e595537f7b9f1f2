"""``kedro run --pipelines monitoring`` and ``kedro monitor check`` on the small project run.

The small run's model is packaged (with its reference profile) into a BentoML home of its own.
A later window of the same generated world is written as the service writes its prediction log
(scored by the trained model, as the service scores), with the labels in parts beside it; or as
a file of scoring inputs for the offline check.
"""

from __future__ import annotations

import json
import pickle
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from lab2prod.monitoring.log import write_part
from tests.conftest import KEDRO
from tests.pipelines.monitoring.conftest import TRAINED_UNTIL, transactions
from tests.serving.server import serving_env

pytestmark = pytest.mark.slow

WORLD = {"seed": 42, "n_transactions": 40_001, "n_customers": 1_500, "n_merchants": 300}
"""The small run's world (tests/conftest.py SMALL_RUN_PARAMS), drawn again: one more row."""


@dataclass(frozen=True)
class Monitored:
    project: Path
    home: Path
    tag: str

    def kedro(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KEDRO), *args],
            cwd=self.project,
            env=serving_env(self.home, COLUMNS="200"),
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def monitored(small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    """The small run, its model packaged into a BentoML home of its own; windows of the whole
    log, whatever the configured last week."""
    home = tmp_path_factory.mktemp("monitoring_bentoml")
    local = small_run / "conf" / "local" / "parameters_monitoring.yml"
    local.write_text("monitoring:\n  window:\n    last: null\n")
    project = Monitored(small_run, home, "")
    result = project.kedro("run", "--pipelines", "packaging")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (version,) = (home / "models" / "fraud_detection").glob("*/model.yaml")
    return Monitored(small_run, home, f"fraud_detection:{version.parent.name}")


def later_window(scenario: str, strength: float = 1.5) -> pd.DataFrame:
    """The small world after its training period, with ``scenario`` from then on."""
    data = transactions(
        **WORLD, drift={"scenario": scenario, "start": TRAINED_UNTIL, "strength": strength}
    )
    times = data["timestamp"]
    after = times >= times.min() + (times.max() - times.min()) * TRAINED_UNTIL
    return data[after].reset_index(drop=True)


def write_log(monitored: Monitored, window: pd.DataFrame, *, random_scores: bool = False):
    """The window as the service logs it, in parts, and its labels in parts."""
    run = monitored.project
    (model_file,) = (run / "data/06_models/model.pkl").glob("*/model.pkl")
    model = pickle.loads(model_file.read_bytes())
    threshold = json.loads((run / "data/08_reporting/metrics.json").read_text())["threshold"]
    features = build_features(window, FeatureParams())[list(model.feature_names_in_)]
    score = model.predict_proba(features)[:, 1]
    if random_scores:  # a model that no longer ranks: the same scores, shuffled
        score = np.random.default_rng(0).permutation(score)
    log = window.drop(columns=["is_fraud"]).assign(
        fraud_probability=score,
        is_fraud=score >= threshold,
        model=monitored.tag,
        request_id=[f"r{i}" for i in range(len(window))],
    )
    folder = run / "data/07_model_output/prediction_log"
    labels = run / "data/01_raw/labels"
    for path in (folder, labels):
        if path.exists():
            for part in path.rglob("*.parquet"):
                part.unlink()
    for part in np.array_split(np.arange(len(log)), 4):
        write_part(str(folder), log.iloc[part])
    write_part(str(labels), window[["transaction_id", "is_fraud"]])


def test_monitoring_pipeline_writes_the_verdict_tables_and_the_report(monitored):
    """A run on a log with inflated amounts: summary, drift table, drift over time and the
    report notebook's HTML, with the distributions and the drift over time in it."""
    write_log(monitored, later_window("amount_inflation"))

    result = monitored.kedro("run", "--pipelines", "monitoring")

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reporting = monitored.project / "data/08_reporting"
    summary = json.loads((reporting / "monitoring/summary.json").read_text())
    assert summary["verdict"] == "drift" and "amount" in summary["drifted"]
    assert summary["model"] == monitored.tag
    assert summary["window"]["labelled_rows"] == summary["window"]["rows"] > 10_000
    drift = pd.read_csv(reporting / "monitoring/drift.csv")
    assert drift.set_index("column").loc["amount", "drifted"]
    over_time = pd.read_csv(reporting / "monitoring/drift_over_time.csv")
    assert over_time["period"].nunique() >= 25
    performance = pd.read_csv(reporting / "monitoring/performance.csv")
    assert set(performance["metric"]) >= {"pr_auc", "recall", "fpr", "positive_rate"}
    html = (reporting / "monitoring_report.html").read_text()
    for section in ("Verdict", "Distributions side by side", "Drift over time", "Performance"):
        assert section in html
    assert html.count("<img") >= 3 and "DRIFT" in html


def test_check_on_the_prediction_log_exits_by_verdict_with_one_line_per_reason(monitored):
    """`kedro monitor check`: 3 and a line per drifted column on inflated amounts; 4 when the
    scores stop ranking the labels; 0 on a quiet window."""
    write_log(monitored, later_window("amount_inflation"))
    drift = monitored.kedro("monitor", "check")
    assert drift.returncode == 3, drift.stdout[-3000:] + drift.stderr[-3000:]
    lines = drift.stdout.splitlines()
    assert any(line.startswith("drift: amount (input) psi") for line in lines)
    assert lines[-1].startswith("DRIFT: ")

    write_log(monitored, later_window("none"), random_scores=True)
    decay = monitored.kedro("monitor", "check")
    assert decay.returncode == 4, decay.stdout[-3000:] + decay.stderr[-3000:]
    assert any(line.startswith("decay: recall ") for line in decay.stdout.splitlines())

    write_log(monitored, later_window("none"))
    quiet = monitored.kedro("monitor", "check")
    assert quiet.returncode == 0, quiet.stdout[-3000:] + quiet.stderr[-3000:]
    assert quiet.stdout.splitlines()[-1] == "OK: no column drifted, no metric decayed."


def test_offline_check_scores_a_file_with_the_packaged_model(monitored, tmp_path):
    """--transactions: a generator batch checked without a server; its labels are used. A fraud
    surge with a campaign the model never saw decays it: 4."""
    for scenario, strength, code in (
        ("none", 1.5, 0),
        ("fraud_surge", 3.5, 4),
        ("new_merchant_mix", 1.5, 3),
    ):
        batch = tmp_path / f"{scenario}.parquet"
        later_window(scenario, strength).to_parquet(batch)
        result = monitored.kedro(
            "monitor", "check", "--transactions", str(batch), "--output", str(tmp_path / scenario)
        )
        assert result.returncode == code, result.stdout[-3000:] + result.stderr[-3000:]
        assert "with a label" in result.stdout
        summary = json.loads((tmp_path / scenario / "summary.json").read_text())
        assert summary["window"]["labelled_rows"] > 10_000
        assert (tmp_path / scenario / "drift.csv").is_file()
        if scenario == "fraud_surge":
            assert "recall" in summary["decayed"], summary["reasons"]
    assert {"merchant_category", "channel"} <= set(summary["drifted"])


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--transactions", "no_such_file.parquet"], 2, "does not exist"),
        (["--all-rows", "--last", "3D"], 2, "--all-rows takes no"),
        (["--start", "yesterday-ish"], 2, "is not a time"),
        (["--start", "2030-01-01"], 1, "no predictions"),
    ],
)
def test_check_refuses_bad_options_in_one_line(monitored, arguments, code, message):
    """Bad input: the exit code of its kind and one line naming it, no traceback."""
    result = monitored.kedro("monitor", "check", *arguments)
    assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
