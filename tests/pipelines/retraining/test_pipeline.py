"""The ``retraining`` pipeline, run by Kedro on recent drifted data: the challenger is packaged
as the new ``latest`` only when it beats the model in service by the margin.

The champion is a model trained on a world without drift (tests/pipelines/monitoring/
conftest.py); the recent data is the same customers after their spending moved online and to
electronics, crypto and gift cards (new_merchant_mix x3), labelled.
"""

from __future__ import annotations

import json
import uuid

import bentoml
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from fraud_detection.pipelines.retraining import create_pipeline
from fraud_detection.pipelines.retraining.nodes import RetrainingParams, recent_splits
from lab2prod.serving import read_package, write_package
from lab2prod.serving.package import ModelPackage
from tests.pipelines.monitoring.conftest import SMALL, transactions, world
from tests.pipelines.training.conftest import add_params, load_conf, validated_params

pytestmark = pytest.mark.slow

DEGRADED = {"max_iter": 1, "max_leaf_nodes": 2, "early_stopping": False}
"""A challenger that cannot learn: one split."""


@pytest.fixture(scope="module")
def recent():
    """The champion's customers, their spending moved (from the first day on), labelled."""
    return transactions(
        seed=1, **SMALL, drift={"scenario": "new_merchant_mix", "start": 0.0, "strength": 3.0}
    )


@pytest.fixture
def champion() -> str:
    """The no-drift world's model in the BentoML store, under a name of its own."""
    trained = world(1)
    name = f"fraud_detection_{uuid.uuid4().hex[:8]}"
    package = ModelPackage(
        pipeline="inference",
        artifacts={"model": trained.model},
        inputs={"decision_threshold": trained.threshold},
        parameters={"inference_features": {}},
        documents={"reference_profile": trained.profile},
    )
    return write_package(package, name=name)


def run(tmp_path, champion: str, recent, **training: object) -> DataCatalog:
    name = champion.split(":")[0]
    conf = load_conf("catalog_retraining")
    conf["retrained_model"]["model"]["name"] = name
    conf["retraining_decision"]["filepath"] = str(tmp_path / "decision.json")
    conf["challenger_model"]["filepath"] = str(tmp_path / "challenger.pkl")
    catalog = DataCatalog.from_config(conf, save_version="2026-12-01T00.00.00.000Z")
    catalog["packaged_model"] = read_package(champion)
    catalog["scoring_input"] = recent
    raw = {
        name: value
        for file in (
            "parameters_retraining",
            "parameters_training",
            "parameters_evaluation",
            "parameters_inference_features",
            "parameters_reference",
        )
        for name, value in load_conf(file).items()
    }
    raw["training"]["model"].update(training)
    add_params(catalog, validated_params(create_pipeline(), raw))
    SequentialRunner().run(create_pipeline(), catalog)
    return catalog


def decision_of(tmp_path) -> dict:
    (path,) = (tmp_path / "decision.json").glob("*/decision.json")
    return json.loads(path.read_text())


def test_a_better_challenger_becomes_latest_with_the_decision_in_its_metadata(
    tmp_path, champion, recent
):
    """On the new merchant mix the challenger's PR AUC beats the champion's by more than the
    margin: a new version, now latest, whose metadata holds both scores and the reason, and
    which carries its own reference profile."""
    name = champion.split(":")[0]

    run(tmp_path, champion, recent)

    decision = decision_of(tmp_path)
    assert decision["promote"] is True, decision["reason"]
    assert decision["gain"] >= decision["margin"] == 0.01
    assert decision["champion"]["tag"] == champion
    latest = read_package(f"{name}:latest")
    assert latest.tag != champion
    promotion = latest.metadata["promotion"]
    assert promotion["challenger"]["pr_auc"] == pytest.approx(decision["challenger"]["pr_auc"])
    assert promotion["champion"]["pr_auc"] == pytest.approx(decision["champion"]["pr_auc"])
    assert latest.inputs["decision_threshold"] == pytest.approx(decision["challenger"]["threshold"])
    assert "merchant_category" in {
        c["name"] for c in latest.documents["reference_profile"]["columns"]
    }
    assert len(bentoml.models.list(name)) == 2


def test_a_challenger_that_learns_a_new_fraud_campaign_is_promoted(tmp_path, champion):
    """A fraud surge with a campaign the champion never saw (account takeover of older
    customers at their usual amounts): the champion misses it, the challenger trained on the
    recent labels learns it and is promoted."""
    surge = transactions(
        seed=1, **SMALL, drift={"scenario": "fraud_surge", "start": 0.0, "strength": 3.5}
    )

    run(tmp_path, champion, surge)

    decision = decision_of(tmp_path)
    assert decision["promote"] is True, decision["reason"]
    assert decision["gain"] >= decision["margin"]
    assert decision["challenger"]["recall"] > decision["champion"]["recall"]


def test_a_worse_challenger_is_refused_and_nothing_is_stored(tmp_path, champion, recent):
    """A challenger that cannot learn (forced: one split) loses: the champion stays latest, no
    version is added, and the decision says why with both scores."""
    name = champion.split(":")[0]

    run(tmp_path, champion, recent, **DEGRADED)

    decision = decision_of(tmp_path)
    assert decision["promote"] is False
    assert decision["reason"].startswith(f"kept {champion}: the challenger's pr_auc")
    assert decision["challenger"]["pr_auc"] < decision["champion"]["pr_auc"]
    assert read_package(f"{name}:latest").tag == champion
    assert len(bentoml.models.list(name)) == 1


@pytest.mark.parametrize(
    ("fraud", "days", "message"),
    [
        (True, {"train_days": 200}, "use fewer days"),
        (False, {"train_days": 2, "validation_days": 1, "holdout_days": 1}, "hold no fraud"),
    ],
)
def test_recent_days_that_cannot_train_or_judge_are_refused(recent, fraud, days, message):
    """Too little history, or days without fraud: a clear error before any training."""
    frame = recent.head(3_000) if fraud else recent.head(3_000).assign(is_fraud=0)
    with pytest.raises(ValueError, match=message):
        recent_splits(frame, RetrainingParams(recent=days))
