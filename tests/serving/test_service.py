"""The fraud service over HTTP: a real ``bentoml serve`` of src/fraud_detection/service.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraud_detection.request import EXAMPLE_TRANSACTION
from tests.conftest import ROOT
from tests.serving.conftest import PackagedModel
from tests.serving.server import SERVICE, bentoml_serve

pytestmark = pytest.mark.slow

MAX_TRANSACTIONS = 5
TOKEN = "s3cret-token"
REQUEST = json.loads((ROOT / "tests/fixtures/predict_request.json").read_text())


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    """Where the ``server`` fixture's output goes."""
    return tmp_path_factory.mktemp("serve") / "bentoml.log"


@pytest.fixture(scope="module")
def server(packaged_model: PackagedModel, server_log: Path) -> Iterator[str]:
    """The service on loopback, from source, at most five transactions per request."""
    with bentoml_serve(
        SERVICE,
        home=packaged_model.home,
        cwd=ROOT,
        log=server_log,
        env={"FRAUD_DETECTION_MAX_TRANSACTIONS": str(MAX_TRANSACTIONS)},
    ) as url:
        yield url


@pytest.fixture(scope="module")
def token_server(packaged_model: PackagedModel, tmp_path_factory) -> Iterator[str]:
    """The service with a bearer token configured."""
    log = tmp_path_factory.mktemp("serve_token") / "bentoml.log"
    with bentoml_serve(
        SERVICE,
        home=packaged_model.home,
        cwd=ROOT,
        log=log,
        env={"FRAUD_DETECTION_API_TOKEN": TOKEN},
    ) as url:
        yield url


def post(url: str, body: Any, *, content_type: str = "application/json", **headers: str):
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    return httpx.post(
        f"{url}/predict",
        content=content,
        headers={"Content-Type": content_type, **headers},
        timeout=30,
    )


def with_change(**change: Any) -> dict[str, Any]:
    return {"transactions": [{**EXAMPLE_TRANSACTION, **change}]}


def test_predict_scores_each_transaction_with_the_model_tag(server, packaged_model):
    """The fixture request gets one prediction per transaction, decided at the threshold."""
    response = post(server, REQUEST)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == packaged_model.tag
    ids = [t["transaction_id"] for t in REQUEST["transactions"]]
    assert [p["transaction_id"] for p in body["predictions"]] == ids
    for prediction in body["predictions"]:
        assert 0.0 <= prediction["fraud_probability"] <= 1.0
        expected = prediction["fraud_probability"] >= packaged_model.threshold
        assert prediction["is_fraud"] is expected


def test_one_transaction_alone_gets_the_score_it_gets_in_a_batch(server):
    """A transaction's score does not depend on the others in its request."""
    together = post(server, REQUEST).json()["predictions"]
    alone = post(server, {"transactions": REQUEST["transactions"][1:]}).json()["predictions"]
    assert alone == together[1:]


def test_timestamps_with_a_utc_offset_are_scored_as_naive_utc(server):
    """``...T22:07:45+01:00`` is the same instant as the naive UTC ``...T21:07:45``."""
    naive = post(server, with_change(timestamp="2026-03-14T21:07:45")).json()
    aware = post(server, with_change(timestamp="2026-03-14T22:07:45+01:00")).json()
    assert aware["predictions"] == naive["predictions"]


NAN_BODY = json.dumps(with_change(amount=float("nan")))  # json writes the NaN literal
INF_BODY = json.dumps(with_change(amount=float("inf")))
MISSING_DEVICE = {"transactions": [{k: v for k, v in EXAMPLE_TRANSACTION.items() if k != "device"}]}
TOO_MANY = {
    "transactions": [
        {**EXAMPLE_TRANSACTION, "transaction_id": f"tx{i:010d}"}
        for i in range(MAX_TRANSACTIONS + 1)
    ]
}
TX0 = ["transactions", 0]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "loc", "message"),
    [
        pytest.param(MISSING_DEVICE, None, 400, [*TX0, "device"], "Field required", id="missing"),
        pytest.param(
            with_change(amount="12.5"), None, 400, [*TX0, "amount"], "valid number", id="type"
        ),
        pytest.param(NAN_BODY, None, 400, [*TX0, "amount"], "finite number", id="nan"),
        pytest.param(INF_BODY, None, 400, [*TX0, "amount"], "finite number", id="inf"),
        pytest.param(
            with_change(amount=-3.0), None, 400, [*TX0, "amount"], "greater than 0", id="negative"
        ),
        pytest.param(
            with_change(merchant_category="casino"),
            None,
            400,
            [*TX0, "merchant_category"],
            "Input should be 'grocery'",
            id="unknown_category",
        ),
        pytest.param(
            with_change(promo_code="X"),
            None,
            400,
            [*TX0, "promo_code"],
            "Extra inputs are not permitted",
            id="unknown_field",
        ),
        pytest.param(
            {"transactions": []}, None, 400, ["transactions"], "at least 1 item", id="empty"
        ),
        pytest.param(
            TOO_MANY,
            None,
            400,
            ["transactions"],
            f"at most {MAX_TRANSACTIONS} items",
            id="over_maximum",
        ),
        pytest.param(
            {"transactions": [EXAMPLE_TRANSACTION, EXAMPLE_TRANSACTION]},
            None,
            400,
            ["transactions"],
            "transaction_id must be unique",
            id="duplicate_id",
        ),
        pytest.param('{"transactions": [', None, 400, [], "Invalid JSON", id="malformed_json"),
        pytest.param(
            [EXAMPLE_TRANSACTION], None, 400, [], "Input should be an object", id="not_an_object"
        ),
        pytest.param(
            REQUEST,
            "text/plain",
            415,
            ["header", "Content-Type"],
            "must be application/json",
            id="content_type",
        ),
        pytest.param(
            with_change(channel="in_store"),
            None,
            422,
            TX0,
            "card_present_if_and_only_if_in_store",
            id="cross_field_contract",
        ),
        pytest.param(
            with_change(timestamp="2099-01-01T00:00:00"),
            None,
            422,
            [*TX0, "timestamp"],
            "not_in_the_future",
            id="future",
        ),
        pytest.param(
            with_change(customer_id=2**70),
            None,
            400,
            [*TX0, "customer_id"],
            "less than or equal to 9223372036854775807",
            id="int_overflow",
        ),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field_and_the_problem(
    server, body, content_type, status, loc, message
):
    """Each bad request is refused with a JSON body whose detail names the field and problem."""
    response = post(server, body, content_type=content_type or "application/json")

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert isinstance(error["error"], str)
    matching = [item for item in error["detail"] if item["loc"] == loc]
    assert matching, f"no detail at {loc}: {error['detail']}"
    assert any(message in item["msg"] for item in matching), matching


def test_refused_requests_are_logged_in_one_line_without_a_traceback(server, server_log):
    """A client's bad request is a line of the log, not a server error with a traceback."""
    assert post(server, with_change(customer_age=17)).status_code == 400

    log = server_log.read_text(errors="replace")
    assert "Traceback" not in log
    assert "Refused /predict [POST]: 400, 1 invalid field(s)" in log


def test_one_bad_transaction_refuses_its_request_only(server):
    """A broken request sent at the same time as good ones does not fail them (batching)."""
    import concurrent.futures

    bad = with_change(channel="in_store")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(post, server, bad if i % 4 == 0 else REQUEST) for i in range(16)]
        statuses = [f.result().status_code for f in futures]
    assert statuses == [422 if i % 4 == 0 else 200 for i in range(16)]


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(selector)}\}})? ([0-9.e+-]+)$"
    found = re.search(pattern, text, flags=re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_predictions_rejections_and_scores(server):
    """/metrics has BentoML's request metrics and the service's own counters and histogram."""
    before = httpx.get(f"{server}/metrics").text
    post(server, REQUEST)
    post(server, {"transactions": []})
    post(server, REQUEST, content_type="text/plain")
    after = httpx.get(f"{server}/metrics").text

    decided = sum(
        metric(after, "fraud_detection_predictions_total", decision=d)
        - metric(before, "fraud_detection_predictions_total", decision=d)
        for d in ("fraud", "legitimate")
    )
    assert decided == len(REQUEST["transactions"])
    for reason in ("empty", "unsupported_media_type"):
        name = "fraud_detection_rejected_requests_total"
        assert metric(after, name, reason=reason) - metric(before, name, reason=reason) == 1
    count = "fraud_detection_probability_count"
    assert metric(after, count) - metric(before, count) == len(REQUEST["transactions"])
    assert 'fraud_detection_probability_bucket{le="0.05"}' in after
    assert "bentoml_service_request_total" in after  # BentoML's own


def test_each_worker_scores_with_native_pools_of_its_share_of_the_cores(server):
    """OpenMP and BLAS, read back with threadpoolctl in the threads that score, use one
    worker's share of the cores (one each, a worker per core), not the whole machine: pools
    sized to the machine in every worker collapse throughput under sustained load."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:  # concurrent: every worker scores
        statuses = [r.status_code for r in pool.map(lambda _: post(server, REQUEST), range(16))]
    assert statuses == [200] * 16
    text = httpx.get(f"{server}/metrics").text

    # workers="cpu_count": a worker per core, one thread each (the machine's cores without it)
    for pool_kind in ("openmp", "blas"):
        assert metric(text, "lab2prod_native_threads", pool=pool_kind) == 1, text[-2000:]


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_health_endpoints_answer(server, path):
    """The probes a deployment uses answer 200."""
    assert httpx.get(f"{server}{path}").status_code == 200


def test_openapi_documents_predict_with_the_example_and_the_error_bodies(server):
    """/docs.json shows the request (with the example), the response and every error status."""
    spec = httpx.get(f"{server}/docs.json").json()
    post_op = spec["paths"]["/predict"]["post"]
    body = post_op["requestBody"]["content"]["application/json"]
    assert body["example"] == {"transactions": [EXAMPLE_TRANSACTION]}
    assert body["schema"]["properties"]["transactions"]["maxItems"] == MAX_TRANSACTIONS
    for status in ("400", "401", "415", "422"):
        schema = post_op["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    transaction = spec["components"]["schemas"]["TransactionRequest"]
    assert "casino" not in transaction["properties"]["merchant_category"]["enum"]
    assert transaction["properties"]["amount"]["exclusiveMinimum"] is True  # OpenAPI 3.0
    assert httpx.get(f"{server}/").status_code == 200  # the Swagger UI


def test_a_configured_token_is_required_on_predict_only(token_server):
    """With a token set, /predict needs it; the probes and /metrics stay open."""
    missing = post(token_server, REQUEST)
    wrong = post(token_server, REQUEST, Authorization="Bearer nope")
    right = post(token_server, REQUEST, Authorization=f"Bearer {TOKEN}")

    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert right.status_code == 200, right.text
    for path in ("/readyz", "/metrics"):
        assert httpx.get(f"{token_server}{path}").status_code == 200


def test_a_server_without_token_needs_none(server):
    """No token configured: /predict is open (the default)."""
    assert post(server, REQUEST).status_code == 200


def test_service_module_reads_its_settings_from_the_environment(tmp_path: Path):
    """A bad FRAUD_DETECTION_MAX_TRANSACTIONS stops the import with the variable's name."""
    import subprocess
    import sys

    from tests.serving.server import serving_env

    result = subprocess.run(
        [sys.executable, "-c", "import fraud_detection.service"],
        env=serving_env(tmp_path, FRAUD_DETECTION_MAX_TRANSACTIONS="lots"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "FRAUD_DETECTION_MAX_TRANSACTIONS='lots'" in result.stderr
