"""The pieces a service is built from, in-process: request and response models, the scorer,
the model check at start-up, the metrics."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from pydantic import BaseModel, ValidationError

from fraud_detection.pipelines.inference_features.nodes import FeatureParams
from fraud_detection.request import EXAMPLE_TRANSACTION, TransactionRequest
from fraud_detection.schemas import ScoringRequest
from lab2prod.serving import ModelMismatchError, ModelPackage, ServingError, write_package
from lab2prod.serving.api import (
    ColumnBatch,
    RowResult,
    batch_request,
    batch_response,
    env_int,
    load_scorer,
    pinned_tag,
)
from lab2prod.serving.frames import RowError
from lab2prod.serving.metrics import serving_metrics
from tests.serving.server import request_records

SCORER_ARGS = {
    "project": "fraud_detection",
    "request_model": TransactionRequest,
    "contract": ScoringRequest,
    "request_input": "scoring_input",
    "output": "predictions",
    "prediction_fields": ["transaction_id", "fraud_probability", "is_fraud"],
}


class Prediction(BaseModel):
    transaction_id: str
    fraud_probability: float
    is_fraud: bool


def record(i: int, **change) -> dict:
    return {**EXAMPLE_TRANSACTION, "transaction_id": f"tx{i:010d}", **change}


@pytest.fixture(scope="module")
def stored_tag(fitted_model) -> str:
    """A package of the fitted model for the example's inference pipeline, in the store."""
    package = ModelPackage(
        pipeline="inference",
        artifacts={"model": fitted_model},
        inputs={"decision_threshold": 0.5},
        parameters={"inference_features": FeatureParams().model_dump()},
        request_model="fraud_detection.request.TransactionRequest",
        request_schema=TransactionRequest.model_json_schema(),
    )
    return write_package(package, name=f"api_{uuid.uuid4().hex[:8]}")


def test_request_model_refuses_each_bad_request_with_a_reason():
    """Empty, too long, repeated ids and bad JSON fail validation and are counted by reason."""
    reasons: list[str] = []
    Request = batch_request(
        TransactionRequest,
        field="transactions",
        max_records=2,
        unique=["transaction_id"],
        on_reject=reasons.append,
    )

    class Body:
        def __init__(self, body: bytes) -> None:
            self.headers = {}
            self._body = body

        async def body(self) -> bytes:
            return self._body

    from _bentoml_impl.serde import JSONSerde

    bodies = {
        "empty": {"transactions": []},
        "too_many": {"transactions": [record(0), record(1), record(2)]},
        "duplicate_id": {"transactions": [record(0), record(0)]},
        "invalid_field": {"transactions": [record(0, amount=-1.0)]},
    }
    for reason, body in bodies.items():
        with pytest.raises(ValidationError):
            asyncio.run(Request.from_http_request(Body(json.dumps(body).encode()), JSONSerde()))
        assert reasons[-1] == reason
    with pytest.raises(ValidationError):
        asyncio.run(Request.from_http_request(Body(b"{"), JSONSerde()))
    assert reasons[-1] == "malformed_json"
    ok = asyncio.run(
        Request.from_http_request(
            Body(json.dumps({"transactions": [record(0)]}).encode()), JSONSerde()
        )
    )
    assert ok.transactions[0].transaction_id == "tx0000000000"


def test_request_model_schema_is_openapi_30():
    """The components use OpenAPI 3.0's `example` and boolean exclusive bounds."""
    Request = batch_request(
        TransactionRequest, field="transactions", max_records=7, example=EXAMPLE_TRANSACTION
    )
    components = {k: v for k, v in Request.openapi_components("predict").items()}
    transaction = components["TransactionRequest"]
    assert transaction.example == EXAMPLE_TRANSACTION
    amount = transaction.properties["amount"]
    assert (amount["minimum"], amount["exclusiveMinimum"]) == (0.0, True)
    assert Request.model_json_schema()["example"] == {"transactions": [EXAMPLE_TRANSACTION]}


def test_scorer_scores_good_rows_and_reports_bad_ones(stored_tag):
    """In one merged batch, a row breaking the contract gets errors, the others predictions."""
    scorer = load_scorer(stored_tag, **SCORER_ARGS)
    rows = [
        TransactionRequest.model_validate(r)
        for r in (record(0), record(1, channel="in_store"), record(2))
    ]

    results = scorer(rows)

    assert [bool(r.errors) for r in results] == [False, True, False]
    assert results[1].prediction is None
    good = results[0].prediction
    assert set(good) == {"transaction_id", "fraud_probability", "is_fraud"}
    assert good["is_fraud"] is (good["fraud_probability"] >= 0.5)
    alone = scorer(rows[2:])[0].prediction
    # A linear model's dot products round differently by batch size (BLAS): equal to 1e-12.
    assert alone["fraud_probability"] == pytest.approx(results[2].prediction["fraud_probability"])
    assert alone["is_fraud"] is results[2].prediction["is_fraud"]
    assert {r.model for r in results} == {stored_tag}


def test_scorer_hands_what_it_answered_to_on_scored_with_each_rows_request_id(stored_tag):
    """Three requests merged into one batch, the second with a record that breaks the contract:
    on_scored gets the first's and the third's rows (answered 200), with their request ids,
    and nothing of the second (answered 422)."""
    from lab2prod.serving.batching import concat
    from lab2prod.serving.frames import ContractBatch
    from lab2prod.serving.recording import REQUEST_ID

    scorer = load_scorer(stored_tag, **SCORER_ARGS)
    seen = []
    scorer.on_scored = lambda inputs, outputs, ids: seen.append((inputs, outputs, ids))
    contract = ContractBatch(ScoringRequest)
    requests = []
    for request_id, rows in (
        ("a", [record(0), record(1)]),
        ("b", [record(2), record(3, channel="in_store")]),
        ("c", [record(4)]),
    ):
        columns, errors = contract.record_columns(
            [TransactionRequest.model_validate(r) for r in rows]
        )
        assert not errors
        requests.append(ColumnBatch({**columns, REQUEST_ID: [request_id] * len(rows)}, len(rows)))

    results = scorer(concat(requests))

    assert [bool(r.errors) for r in results] == [False, False, False, True, False]
    ((inputs, outputs, ids),) = seen
    assert ids == ["a", "a", "c"]
    assert list(inputs["transaction_id"]) == ["tx0000000000", "tx0000000001", "tx0000000004"]
    assert list(outputs["transaction_id"]) == list(inputs["transaction_id"])
    assert outputs["fraud_probability"].tolist() == [
        results[i].prediction["fraud_probability"] for i in (0, 1, 4)
    ]


def test_scorer_matches_the_batch_pipeline(stored_tag, scoring_input, fitted_model):
    """Scores over the service path equal the model's own on the same rows."""
    from fraud_detection.pipelines.inference_features.nodes import build_features

    scorer = load_scorer(stored_tag, **SCORER_ARGS)
    records = [TransactionRequest.model_validate(r) for r in request_records(scoring_input)]
    features = build_features(scoring_input, FeatureParams())[list(fitted_model.feature_names_in_)]
    expected = fitted_model.predict_proba(features)[:, 1]
    got = [r.prediction["fraud_probability"] for r in scorer(records)]
    assert got == pytest.approx(list(expected), abs=1e-12)


def test_a_model_trained_for_another_request_is_refused(fitted_model):
    """If the request schema changed since packaging, the service refuses to start."""
    schema = TransactionRequest.model_json_schema()
    schema["properties"]["amount"]["maximum"] = 1.0
    tag = write_package(
        ModelPackage(
            pipeline="inference",
            artifacts={"model": fitted_model},
            inputs={"decision_threshold": 0.5},
            parameters={"inference_features": FeatureParams().model_dump()},
            request_schema=schema,
        ),
        name=f"api_{uuid.uuid4().hex[:8]}",
    )
    with pytest.raises(ModelMismatchError, match="trained for another request") as caught:
        load_scorer(tag, **SCORER_ARGS)
    assert caught.value.tag == tag


def test_a_model_for_an_unregistered_pipeline_is_refused(fitted_model):
    """A package naming a pipeline the project does not register is refused at start-up."""
    tag = write_package(
        ModelPackage(pipeline="no_such_pipeline", artifacts={"model": fitted_model}),
        name=f"api_{uuid.uuid4().hex[:8]}",
    )
    with pytest.raises(ModelMismatchError, match="'no_such_pipeline'"):
        load_scorer(tag, **SCORER_ARGS)


def test_response_is_a_200_or_a_422_naming_each_bad_record():
    """The response model answers each request from its share of the batch."""
    observed: list = []
    reasons: list[str] = []
    Response = batch_response(
        Prediction, records_field="transactions", observe=observed.extend, on_reject=reasons.append
    )
    good = RowResult("m:1", prediction={"transaction_id": "a", "fraud_probability": 0.2})
    bad = RowResult("m:1", errors=(RowError(0, ("timestamp",), "in the future", "contract_check"),))

    ok = asyncio.run(Response.to_http_response([good, good], None))
    refused = asyncio.run(Response.to_http_response([good, bad], None))

    assert ok.status_code == 200
    assert json.loads(ok.body) == {"predictions": [good.prediction] * 2, "model": "m:1"}
    assert observed == [good.prediction] * 2
    assert refused.status_code == 422
    assert json.loads(refused.body)["detail"] == [
        {"loc": ["transactions", 1, "timestamp"], "msg": "in the future", "type": "contract_check"}
    ]
    assert reasons == ["contract_check"]


def test_the_200_body_is_the_documented_model_and_nothing_else():
    """The body is serialized by the response model the spec shows: a prediction's keys the
    model does not declare stay out, and the body validates against the model."""
    Response = batch_response(Prediction, records_field="transactions")
    row = {"transaction_id": "a", "fraud_probability": 0.2, "is_fraud": False, "debug": [1]}

    ok = asyncio.run(Response.to_http_response([RowResult("m:1", prediction=row)], None))

    body = json.loads(ok.body)
    assert body == {
        "predictions": [{"transaction_id": "a", "fraud_probability": 0.2, "is_fraud": False}],
        "model": "m:1",
    }
    assert Response.model_validate_json(ok.body).model == "m:1"
    schema = Response.model_json_schema()
    assert schema["$defs"]["Prediction"] == Prediction.model_json_schema()


def test_metrics_count_decisions_and_record_scores():
    """observe() counts decisions by label and fills the score histogram."""
    from prometheus_client import REGISTRY

    prefix = f"t{uuid.uuid4().hex[:8]}"
    metrics = serving_metrics(prefix, ("legitimate", "fraud"))
    predictions = [{"d": True, "p": 0.9}, {"d": False, "p": 0.1}, {"d": False, "p": 0.2}]
    metrics.observe(
        predictions, decision="d", probability="p", labels={True: "fraud", False: "legitimate"}
    )
    metrics.reject("empty")

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    assert value(f"{prefix}_predictions_total", decision="fraud") == 1
    assert value(f"{prefix}_predictions_total", decision="legitimate") == 2
    assert value(f"{prefix}_rejected_requests_total", reason="empty") == 1
    assert value(f"{prefix}_rejected_requests_total", reason="too_many") == 0
    assert value(f"{prefix}_probability_bucket", le="0.1") == 1
    assert value(f"{prefix}_probability_count") == 3
    assert serving_metrics(prefix, ("legitimate", "fraud")) is metrics  # once per process


def test_pinned_tag_prefers_the_version_a_bento_recorded():
    """From source the class attribute's tag; from a bento the version it was built with."""
    from types import SimpleNamespace

    import bentoml
    from bentoml._internal.tag import Tag

    model = bentoml.models.BentoModel("fraud_detection:latest")
    source = SimpleNamespace(bento=None, name="Svc")
    assert pinned_tag(source, model) == "fraud_detection:latest"
    info = SimpleNamespace(name="Svc", models=[SimpleNamespace(tag=Tag("fraud_detection", "v1"))])
    built = SimpleNamespace(
        bento=SimpleNamespace(info=SimpleNamespace(services=[info])), name="Svc"
    )
    assert pinned_tag(built, model) == "fraud_detection:v1"


@pytest.mark.parametrize("raw", ["lots", "0", "-3"])
def test_env_int_refuses_a_bad_setting_naming_it(monkeypatch, raw):
    """A non-integer or too small value stops the service with the variable's name."""
    monkeypatch.setenv("LAB2PROD_TEST_LIMIT", raw)
    with pytest.raises(ServingError, match=f"LAB2PROD_TEST_LIMIT='{raw}'"):
        env_int("LAB2PROD_TEST_LIMIT", 10)


def test_env_int_defaults_when_unset(monkeypatch):
    """Unset or empty: the default."""
    monkeypatch.delenv("LAB2PROD_TEST_LIMIT", raising=False)
    assert env_int("LAB2PROD_TEST_LIMIT", 10) == 10
    monkeypatch.setenv("LAB2PROD_TEST_LIMIT", "25")
    assert env_int("LAB2PROD_TEST_LIMIT", 10) == 25


def test_many_observations_equal_one_by_one_observations():
    """The bulk histogram update leaves exactly what observe() per value would."""
    import numpy as np
    from prometheus_client import CollectorRegistry, Histogram

    from lab2prod.serving.metrics import PROBABILITY_BUCKETS, _observe_many

    registry = CollectorRegistry()
    one = Histogram("one", "d", buckets=PROBABILITY_BUCKETS, registry=registry)
    many = Histogram("many", "d", buckets=PROBABILITY_BUCKETS, registry=registry)
    values = [*np.random.default_rng(0).random(500).tolist(), 0.0, 0.05, 0.95, 1.0]
    for value in values:
        one.observe(value)
    _observe_many(many, values)

    def samples(name: str) -> list:
        (family,) = [m for m in registry.collect() if m.name == name]
        return [
            (s.name.replace(name, ""), s.labels, round(s.value, 9))
            for s in family.samples
            if not s.name.endswith("_created")
        ]

    assert samples("many") == samples("one")


def test_refused_requests_are_logged_as_one_info_line(caplog):
    """BentoML's ERROR-with-traceback for a 400 becomes one INFO line; other errors stay."""
    import logging

    from bentoml._internal.server.http_app import log_exception
    from pydantic import BaseModel, ValidationError

    from lab2prod.serving.api import log_client_errors_briefly

    class Record(BaseModel):
        x: int

    class HttpRequest:
        url = type("Url", (), {"path": "/predict"})
        method = "POST"

    log_client_errors_briefly()
    with caplog.at_level(logging.INFO):
        try:
            Record.model_validate({"x": "a"})
        except ValidationError:
            log_exception(HttpRequest)
        try:
            raise RuntimeError("a bug of the service")
        except RuntimeError:
            log_exception(HttpRequest)

    refused, bug = caplog.records
    assert (refused.levelname, refused.getMessage(), refused.exc_info) == (
        "INFO",
        "Refused /predict [POST]: 400, 1 invalid field(s)",
        None,
    )
    assert bug.levelname == "ERROR" and bug.exc_info is not None
