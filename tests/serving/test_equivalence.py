"""No training/serving skew: the service scores test-period transactions as the batch run did."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.serving.conftest import PackagedModel
from tests.serving.server import SERVICE, bentoml_serve, request_records

pytestmark = pytest.mark.slow

BATCH = 1000


@pytest.fixture(scope="module")
def server(packaged_model: PackagedModel, tmp_path_factory) -> Iterator[str]:
    """The service on loopback with the default limit of 1,000 transactions per request."""
    log = tmp_path_factory.mktemp("serve") / "bentoml.log"
    with bentoml_serve(SERVICE, home=packaged_model.home, cwd=ROOT, log=log) as url:
        yield url


def test_http_probabilities_equal_the_batch_pipeline_on_the_test_period(server, packaged_model):
    """Every test-period transaction, sent over HTTP as a client would send it, gets the
    probability and decision `kedro run` wrote to test_predictions (to 1e-9)."""
    data = packaged_model.project / "data"
    batch = pd.read_parquet(data / "07_model_output/test_predictions.parquet")
    scoring_input = pd.read_parquet(data / "04_feature/scoring_input.parquet")
    test_period = scoring_input.set_index("transaction_id", drop=False).loc[batch["transaction_id"]]
    records = request_records(test_period.reset_index(drop=True))
    assert len(records) > 1000  # several requests, one of them partial

    served: dict[str, dict] = {}
    with httpx.Client(base_url=server, timeout=60) as client:
        for start in range(0, len(records), BATCH):
            body = json.dumps({"transactions": records[start : start + BATCH]})
            response = client.post(
                "/predict", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 200, response.text[:2000]
            served.update({p["transaction_id"]: p for p in response.json()["predictions"]})

    probability = np.array([served[t]["fraud_probability"] for t in batch["transaction_id"]])
    decision = np.array([served[t]["is_fraud"] for t in batch["transaction_id"]])
    np.testing.assert_allclose(probability, batch["fraud_probability"], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(decision, batch["predicted"].to_numpy() == 1)
