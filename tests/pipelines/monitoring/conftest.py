"""Small generated worlds for the monitoring tests: a model trained on one, its reference
profile, and windows of later transactions with a drift scenario.

Everything runs through the project's own node functions and conf/base parameters (the
generator, cleaning, activity, features, split, threshold, predictions, the reference profile);
only the model is cheaper to fit than the default (fewer boosting rounds), which changes what it
scores, not how the monitoring judges it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fraud_detection.pipelines.data_generation.nodes import (
    GenerationParams,
    generate_customers,
    generate_merchants,
    generate_transactions,
)
from fraud_detection.pipelines.data_processing.nodes import (
    attach_activity,
    clean_transactions,
    compute_activity_aggregates,
)
from fraud_detection.pipelines.evaluation.nodes import (
    EvaluationParams,
    choose_threshold,
    predict_test,
)
from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from fraud_detection.pipelines.reference.nodes import reference_data
from fraud_detection.pipelines.training.nodes import (
    ModelParams,
    SplitParams,
    split_by_time,
    train_model,
)
from lab2prod.monitoring import (
    DriftParams,
    LabelParams,
    PerformanceParams,
    ReferenceParams,
    WindowParams,
    build_reference,
    check_drift,
    check_performance,
    count_window,
    labelled_predictions,
    reference_of,
    summarise,
)
from tests.pipelines.training.conftest import load_conf

SMALL = {"n_transactions": 40_000, "n_customers": 1_500, "n_merchants": 300}
"""The suite's small world (tests/conftest.py SMALL_RUN_PARAMS)."""
CHEAP_MODEL = {"max_iter": 60, "learning_rate": 0.1, "n_iter_no_change": 10}
TRAINED_UNTIL = 0.7
"""The training period's end, as a share of the time span (conf/base: train_fraction)."""


def transactions(**params: Any) -> pd.DataFrame:
    """``scoring_input`` of a generated world (the data_generation + data_processing nodes)."""
    conf = load_conf("parameters_data_generation")["data_generation"]
    generation = GenerationParams(**{**conf, **params})
    customers = generate_customers(generation)
    merchants = generate_merchants(generation)
    clean = clean_transactions(generate_transactions(customers, merchants, generation))
    return attach_activity(clean, compute_activity_aggregates(clean))


def monitoring_params() -> dict[str, Any]:
    conf = load_conf("parameters_monitoring")["monitoring"]
    return {
        "window": WindowParams(**{**conf["window"], "last": None}),
        "drift": DriftParams(**conf["drift"]),
        "labels": LabelParams(**conf["labels"]),
        "performance": PerformanceParams(**conf["performance"]),
    }


@dataclass(frozen=True)
class World:
    """A model trained on a generated world, and its reference profile."""

    seed: int
    size: dict[str, int]
    model: Any
    threshold: float
    profile: dict[str, Any]

    def window(self, scenario: str, strength: float = 1.5) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The same customers after training, with ``scenario`` from then on: what the service
        would log (requests, score, decision) and the labels that come later.

        Another draw of the transactions (one more of them), so the window is new data.
        """
        data = transactions(
            seed=self.seed,
            **{**self.size, "n_transactions": self.size["n_transactions"] + 1},
            drift={"scenario": scenario, "start": TRAINED_UNTIL, "strength": strength},
        )
        times = data["timestamp"]
        after = times >= times.min() + (times.max() - times.min()) * TRAINED_UNTIL
        data = data[after].reset_index(drop=True)
        features = build_features(data, FeatureParams())
        score = self.model.predict_proba(features[list(self.model.feature_names_in_)])[:, 1]
        log = data.drop(columns=["is_fraud"]).assign(
            fraud_probability=score, is_fraud=score >= self.threshold, model="fraud_detection:1"
        )
        return log, data[["transaction_id", "is_fraud"]]

    def check(self, scenario: str, strength: float = 1.5, *, labels: bool = True):
        """The monitoring check of a window of ``scenario``, as the pipeline runs it."""
        params = monitoring_params()
        reference = reference_of(self.profile, "fraud_detection:1")
        log, truth = self.window(scenario, strength)
        counts = count_window(reference, log, params["window"])
        drift = check_drift(reference, counts, params["drift"])
        labelled = labelled_predictions(
            reference,
            log,
            truth if labels else truth.iloc[:0],
            counts,
            params["window"],
            params["labels"],
        )
        performance = check_performance(reference, labelled, params["performance"])
        return summarise(reference, counts, drift, performance), drift, performance


@functools.cache
def world(seed: int, **size: int) -> World:
    """Train a (cheap) model on a ``none`` world and profile its reference, as ``kedro run``."""
    size = {**SMALL, **size}
    data = transactions(seed=seed, **size)
    model_input = build_features(data, FeatureParams())
    train_set, validation_set, test_set = split_by_time(model_input, SplitParams())
    conf = load_conf("parameters_training")["training"]["model"]
    model = train_model(train_set, ModelParams(**{**conf, **CHEAP_MODEL}))
    threshold = choose_threshold(model, validation_set, EvaluationParams())
    predictions = predict_test(model, model, test_set, threshold)
    inputs, scored, threshold = reference_data(
        data, train_set, predictions, {"threshold": threshold}
    )
    reference = ReferenceParams(**load_conf("parameters_reference")["reference"])
    profile = build_reference(inputs, scored, threshold, reference)
    return World(seed, size, model, threshold, profile)
