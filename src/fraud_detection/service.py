"""The fraud model as a BentoML service: ``POST /predict`` runs the inference pipeline.

The service runs the very node functions that computed the training features (the registered
``inference`` pipeline, compiled once at start-up by lab2prod) on a packaged model, so serving
and training cannot compute a feature differently. Requests are validated with the request model
derived from the training contract; BentoML's adaptive batching merges concurrent requests into
one pipeline call.

Settings, by environment variable (docs/serving.md):

- ``FRAUD_DETECTION_MODEL``: the model tag, default ``fraud_detection:latest``. Read on import,
  so ``bentoml build`` packs that model; a built bento serves exactly the version it packed.
- ``FRAUD_DETECTION_MAX_TRANSACTIONS``: the most transactions one request may carry (1000).
- ``FRAUD_DETECTION_API_TOKEN``: when set, ``/predict`` requires ``Authorization: Bearer <it>``.
- ``LAB2PROD_THREADS_PER_WORKER``: the native (OpenMP, BLAS) threads each worker may use; by
  default its share of the cores (one, with a worker per core).
- ``FRAUD_DETECTION_MAX_IN_FLIGHT``: requests a worker holds at once (queued or scored, 64);
  past it, 503 with ``Retry-After``.
- ``FRAUD_DETECTION_MAX_BODY_BYTES``: the largest request body (4 MiB); larger: 413.
- ``FRAUD_DETECTION_READ_TIMEOUT``: seconds a request's head, and then its body, may take to
  arrive (10); slower: the connection is closed (head) or 408 (body).
- ``FRAUD_DETECTION_PREDICTION_LOG``: where each worker writes what it scores, as parquet parts
  (``data/07_model_output/prediction_log`` under the working directory, the catalog's
  ``prediction_log``; ``s3://bucket/prefix`` with fsspec's credentials from the environment);
  ``off``: no log.
- ``FRAUD_DETECTION_LIVE_DRIFT``: ``on`` (default) or ``off``: the drift gauges on ``/metrics``.
- ``FRAUD_DETECTION_LIVE_DRIFT_WINDOW``: seconds of scoring the drift gauges cover (3600).
"""

from __future__ import annotations

import os

import bentoml
from pydantic import BaseModel, Field

from fraud_detection.request import EXAMPLE_TRANSACTION, TransactionRequest
from fraud_detection.schemas import ScoringRequest
from lab2prod.serving import api
from lab2prod.serving.metrics import serving_metrics
from lab2prod.serving.middleware import RequestGuard
from lab2prod.serving.shedding import LoadShedder

MODEL_TAG = os.environ.get("FRAUD_DETECTION_MODEL") or "fraud_detection:latest"
MAX_TRANSACTIONS = api.env_int("FRAUD_DETECTION_MAX_TRANSACTIONS", 1000)
MAX_IN_FLIGHT = api.env_int("FRAUD_DETECTION_MAX_IN_FLIGHT", 64)
MAX_BODY_BYTES = api.env_int("FRAUD_DETECTION_MAX_BODY_BYTES", 4 * 2**20)
READ_TIMEOUT = api.env_int("FRAUD_DETECTION_READ_TIMEOUT", 10)
PREDICTION_LOG = api.env_switch(
    "FRAUD_DETECTION_PREDICTION_LOG", "data/07_model_output/prediction_log"
)
LIVE_DRIFT = api.env_switch("FRAUD_DETECTION_LIVE_DRIFT", "on") is not None
LIVE_DRIFT_WINDOW = api.env_int("FRAUD_DETECTION_LIVE_DRIFT_WINDOW", 3600)
DECISIONS = {False: "legitimate", True: "fraud"}


class Prediction(BaseModel):
    """The score of one transaction."""

    transaction_id: str
    fraud_probability: float = Field(ge=0.0, le=1.0, description="The model's P(fraud)")
    is_fraud: bool = Field(description="fraud_probability >= the model's decision threshold")


def _metrics():
    return serving_metrics("fraud_detection", tuple(DECISIONS.values()))


def _reject(reason: str) -> None:
    _metrics().reject(reason)


def _observe(predictions: list) -> None:
    _metrics().observe(
        predictions, decision="is_fraud", probability="fraud_probability", labels=DECISIONS
    )


PredictRequest = api.batch_request(
    TransactionRequest,
    contract=ScoringRequest,
    field="transactions",
    max_records=MAX_TRANSACTIONS,
    unique=["transaction_id"],
    example=EXAMPLE_TRANSACTION,
    on_reject=_reject,
)
PredictResponse = api.batch_response(
    Prediction, records_field="transactions", observe=_observe, on_reject=_reject
)


@bentoml.service(
    service_class=api.ContractService,
    # One worker per CPU the server may use (BentoML reads the container's CPU limit): a worker
    # scores on one core at a time (docs/benchmarks.md: 2 workers on 2 cores, p99 at
    # concurrency 32 ~115 -> ~100 ms, batches up to 2x the rows/s).
    workers="cpu_count",
    traffic={"timeout": 30},
    # Per request, BentoML's OpenTelemetry spans (made even with no exporter set) and its access
    # log line cost more CPU than scoring does in a batch: without them, 1.8x the requests per
    # second and a third of the p99 at concurrency 32 (docs/benchmarks.md). /metrics still
    # counts every request by status; BENTOML_CONFIG turns either back on.
    tracing={"excluded_urls": ["/predict"]},
    logging={"access": {"enabled": False}},
)
class FraudDetection:
    """Card-transaction fraud scores from the model the Kedro project trained."""

    # bentoml build packs it only with its provenance (git, Kedro run, training data,
    # package versions): lab2prod.serving.supply.
    model = api.ProvenancedModel(MODEL_TAG)

    def __init__(self) -> None:
        # Before the model loads: its OpenMP pool would otherwise take every core, in each
        # worker (LAB2PROD_THREADS_PER_WORKER, docs/serving.md).
        threads = api.limit_worker_threads(FraudDetection)
        self.scorer = api.load_scorer(
            api.pinned_tag(FraudDetection, type(self).model),
            project="fraud_detection",
            request_model=TransactionRequest,
            contract=ScoringRequest,
            request_input="scoring_input",
            output="predictions",
            prediction_fields=list(Prediction.model_fields),
            threads=threads,
        )
        # What it scores goes to the prediction log and the live drift counts, off the
        # request's path (docs/monitoring.md, "The service records what it sees").
        self.recorder = api.start_recording(
            self.scorer,
            prefix="fraud_detection",
            log=PREDICTION_LOG,
            live_drift=LIVE_DRIFT,
            window_seconds=LIVE_DRIFT_WINDOW,
        )
        _metrics()  # every series at zero from start-up, before the first request
        api.limit_request_head_time(READ_TIMEOUT)
        # A request of 500 transactions or more fills half a batch by itself: scored at once,
        # not after the wait batching learned from single transactions (docs/serving.md).
        api.score_large_requests_at_once()
        api.log_client_errors_briefly()
        api.freeze_startup_heap()

    @bentoml.api(
        route="/predict",
        input_spec=PredictRequest,
        output_spec=PredictResponse,
        batchable=True,
        max_batch_size=MAX_TRANSACTIONS,
        max_latency_ms=10_000,
    )
    def predict(self, transactions: api.ColumnBatch) -> list[api.RowResult]:
        """Score transactions (one or many, each with its activity aggregates).

        Returns, per transaction, the probability of fraud and the decision at the threshold the
        evaluation chose, with the tag of the model that scored them.
        """
        return self.scorer(transactions)

    @bentoml.on_shutdown
    def close_prediction_log(self) -> None:
        """Write what the prediction log still holds: a clean stop loses nothing answered."""
        self.recorder.close()

    def __metrics__(self, content: str) -> str:
        """``/metrics`` with the live drift gauges of every worker's window."""
        return self.recorder.metrics(content)


# The first added is outermost: the guard reads the body (within its limits) before the shedder
# counts the request in, so a slow body never holds one of a worker's in-flight places.
FraudDetection.add_asgi_middleware(
    RequestGuard,
    path="/predict",
    token_env="FRAUD_DETECTION_API_TOKEN",
    on_reject=_reject,
    max_body_bytes=MAX_BODY_BYTES,
    body_timeout=READ_TIMEOUT,
)
FraudDetection.add_asgi_middleware(
    LoadShedder, path="/predict", max_in_flight=MAX_IN_FLIGHT, on_reject=_reject
)
