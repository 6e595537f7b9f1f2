"""deploy/monitoring/: the Prometheus configs, alert rules and Grafana dashboard of the service.

The configs and rules go through ``promtool``; then a real Prometheus (Debian's ``prometheus``
package) on loopback scrapes a real ``bentoml serve`` that received known traffic, and every query
of the dashboard is asked of it. Grafana itself is not run: the dashboard's queries are, with its
variables substituted the way Grafana does.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from fraud_detection.request import EXAMPLE_TRANSACTION
from lab2prod.serving.metrics import PROBABILITY_BUCKETS, REJECTION_REASONS
from tests.conftest import ROOT, stop_process_group
from tests.serving.conftest import PackagedModel
from tests.serving.server import SERVICE, bentoml_serve, free_port, request_records

MONITORING = ROOT / "deploy" / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus.yml"
KUBERNETES_CONFIG = MONITORING / "prometheus-kubernetes.yml"
ALERTS = MONITORING / "alerts.yml"
ALERTS_TEST = ROOT / "tests" / "fixtures" / "monitoring" / "alerts_test.yml"
DASHBOARD = MONITORING / "grafana" / "fraud-detection-dashboard.json"
REQUEST = json.loads((ROOT / "tests/fixtures/predict_request.json").read_text())

SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)\{([^}]*)\}")
"""A PromQL vector selector with label matchers: metric name, matchers."""
VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
"""A Grafana variable in a query: ``$name`` or ``${name}``."""


def tool(name: str) -> str:
    """The path of a Prometheus binary; fails (never skips) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run `make test-tools` "
            "(installs Debian's prometheus package, with promtool)"
        )
    return path


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool"), *map(str, args)], capture_output=True, text=True, timeout=60
    )


# --- the dashboard ---------------------------------------------------------------------------


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside rows included."""
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, refId, PromQL) of every query of the dashboard."""
    return [
        (panel["title"], target["refId"], target["expr"])
        for panel in dashboard_panels(dashboard)
        for target in panel.get("targets", [])
    ]


QUERIES = dashboard_queries(load_dashboard())


def render(expr: str, variables: dict[str, str]) -> str:
    """The query as Grafana sends it: every ``$variable`` replaced, an unknown one an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"the dashboard uses ${name}, which the test cannot resolve"
        return variables[name]

    return VARIABLE.sub(value, expr)


def test_dashboard_is_a_grafana_dashboard_with_the_panels_the_service_needs():
    """The JSON has Grafana's dashboard shape: uid, title, a Prometheus data source variable
    every panel uses, a job variable every query filters on, and the expected panels."""
    dashboard = load_dashboard()

    assert re.fullmatch(r"[\w-]{1,40}", dashboard["uid"])
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= 39
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["job"]["type"] == "query"
    assert "label_values(" in variables["job"]["definition"]

    panels = dashboard_panels(dashboard)
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    source = {"type": "prometheus", "uid": "${datasource}"}
    for panel in panels:
        where = f"panel {panel['title']!r}"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, where
        assert grid["h"] > 0 and grid["y"] >= 0, where
        assert panel["datasource"] == source, where
        assert panel["targets"], f"{where} has no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        for target in panel["targets"]:
            assert target["datasource"] == source, where
            selectors = SELECTOR.findall(target["expr"])
            assert selectors, f"{where}: no metric selector in {target['expr']}"
            for metric, matchers in selectors:
                assert 'job="$job"' in matchers, f"{where}: {metric} is not filtered by $job"

    titles = {panel["title"] for panel in panels}
    assert {
        "Drifted columns",
        "Drift by column (statistic / threshold)",
        "Score PSI against its threshold",
        "Score distribution against the reference",
        "Request rate",
        "Latency p50 / p99",
        "Errors by status code",
        "Predictions by decision",
        "Rejected requests by reason",
        "Fraud probability distribution",
    } <= titles


# --- promtool --------------------------------------------------------------------------------


def kubernetes_config_on_files(pods_file: Path) -> dict[str, Any]:
    """prometheus-kubernetes.yml with pod discovery read from a file of fake pods: the same
    ``__meta_kubernetes_*`` labels go through the same relabeling."""
    config = yaml.safe_load(KUBERNETES_CONFIG.read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    del job["kubernetes_sd_configs"]
    job["file_sd_configs"] = [{"files": [str(pods_file)]}]
    config["rule_files"] = [str(MONITORING / name) for name in config["rule_files"]]
    return config


def test_prometheus_config_and_its_alert_rules_pass_promtool():
    """`promtool check config` accepts prometheus.yml and the rule file it loads."""
    result = promtool("check", "config", PROMETHEUS_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_kubernetes_config_passes_promtool_with_its_discovery_swapped(tmp_path):
    """prometheus-kubernetes.yml is valid apart from its pod discovery (Debian's Prometheus is
    built without Kubernetes discovery: it rejects ``kubernetes_sd_configs`` as unknown)."""
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(kubernetes_config_on_files(tmp_path / "pods.json")))
    (tmp_path / "pods.json").write_text("[]")

    result = promtool("check", "config", config)

    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_fire_when_and_only_when_they_should():
    """promtool's rule unit tests: down target, 5xx share, slow p99 (4xx not counted), 4xx share;
    and nothing fires on healthy traffic."""
    check = promtool("check", "rules", ALERTS)
    assert check.returncode == 0, check.stdout + check.stderr

    result = promtool("test", "rules", ALERTS_TEST)

    assert result.returncode == 0, result.stdout + result.stderr


# --- a real Prometheus scraping a real service -------------------------------------------------


@dataclass(frozen=True)
class Prometheus:
    url: str
    job: str
    """The job of prometheus.yml's static target: the service."""
    pods_job: str
    """The job of prometheus-kubernetes.yml, discovering the fake pods."""
    service_address: str

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The result of an instant query (at ``at``, Unix seconds, or now)."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        response = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body.get('error')}"
        return body["data"]["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def last_scrape(self) -> float:
        """When the service was last scraped (Unix seconds, ms precision)."""
        value = self.scalar(f'timestamp(up{{job="{self.job}"}})')
        assert value is not None
        return value


@pytest.fixture(scope="module")
def server(packaged_model: PackagedModel, tmp_path_factory) -> Iterator[str]:
    """The service on loopback, from source, with the default settings."""
    log = tmp_path_factory.mktemp("serve") / "bentoml.log"
    with bentoml_serve(SERVICE, home=packaged_model.home, cwd=ROOT, log=log) as url:
        yield url


FAKE_PODS = {
    # name: (app label, phase, annotations); only the first one is the service's, running, opted in
    "fraud-detection-5c9d7-x2kq": ("fraud-detection", "Running", True),
    "fraud-detection-5c9d7-no-annotations": ("fraud-detection", "Running", False),
    "fraud-detection-5c9d7-pending": ("fraud-detection", "Pending", True),
    "another-app-7f8b-z9": ("another-app", "Running", True),
}


def fake_pods(service_port: int) -> list[dict[str, Any]]:
    """File discovery target groups labelled as Kubernetes pod discovery labels them."""
    groups = []
    for name, (app, phase, annotated) in FAKE_PODS.items():
        labels = {
            "__meta_kubernetes_namespace": "fraud",
            "__meta_kubernetes_pod_name": name,
            "__meta_kubernetes_pod_label_app": app,
            "__meta_kubernetes_pod_phase": phase,
        }
        if annotated:
            labels["__meta_kubernetes_pod_annotation_prometheus_io_scrape"] = "true"
            labels["__meta_kubernetes_pod_annotation_prometheus_io_port"] = str(service_port)
            labels["__meta_kubernetes_pod_annotation_prometheus_io_path"] = "/metrics"
        # pod IP and the container's declared port: nothing listens there, the annotation wins
        groups.append({"targets": ["127.0.0.1:9"], "labels": labels})
    return groups


@pytest.fixture(scope="module")
def prometheus(server: str, tmp_path_factory) -> Iterator[Prometheus]:
    """Prometheus on a free loopback port, scraping the service every second with
    prometheus.yml's job (target swapped for the service) and prometheus-kubernetes.yml's job
    (pods from a file), with alerts.yml loaded. Always stopped at the end."""
    binary = tool("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    address = server.removeprefix("http://")
    (work / "pods.json").write_text(json.dumps(fake_pods(int(address.rsplit(":", 1)[1]))))

    static = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (job,) = static["scrape_configs"]
    job["static_configs"] = [{"targets": [address]}]
    (pods_job,) = kubernetes_config_on_files(work / "pods.json")["scrape_configs"]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(MONITORING / name) for name in static["rule_files"]],
        "scrape_configs": [job, pods_job],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    check = promtool("check", "config", work / "prometheus.yml")
    assert check.returncode == 0, check.stdout + check.stderr

    url = f"http://127.0.0.1:{free_port()}"
    log = work / "prometheus.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address={url.removeprefix('http://')}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"prometheus exited:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"prometheus not ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)
        yield Prometheus(url, job["job_name"], pods_job["job_name"], address)
    finally:
        stop_process_group(process)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


@dataclass(frozen=True)
class Traffic:
    """What the test sent between two scrapes, and how to ask Prometheus about exactly that."""

    prometheus: Prometheus
    at: float
    """Unix seconds of the scrape after the traffic: every query is evaluated then."""
    window_ms: int
    """From the scrape before the traffic to ``at``: the range of every ``rate``/``increase``."""
    statuses: Counter[str]
    reasons: Counter[str]
    decisions: Counter[str]
    probabilities: list[float]
    slowest_scored: float
    """Client-side seconds of the slowest 200 response."""

    def query(self, expr: str) -> list[dict[str, Any]]:
        window = f"{self.window_ms}ms"
        variables = {
            "job": self.prometheus.job,
            "__rate_interval": window,
            "__interval": window,
            "__range": window,
        }
        return self.prometheus.query(render(expr, variables), at=self.at)

    def panel(self, title: str, ref_id: str = "A") -> dict[str, float]:
        """The panel's query result as {value of its one grouping label (or ""): value}."""
        (expr,) = [e for t, r, e in QUERIES if t == title and r == ref_id]
        result = {}
        for series in self.query(expr):
            labels = {k: v for k, v in series["metric"].items() if k != "__name__"}
            assert len(labels) <= 1, f"{title}: more labels than its legend uses: {labels}"
            result[next(iter(labels.values()), "")] = float(series["value"][1])
        return result

    def counts(self, title: str) -> dict[str, float]:
        """A per-second panel turned back into counts over the window."""
        return {k: v * self.window_ms / 1000 for k, v in self.panel(title).items()}


def scoring_records(project: Path, *, fraud: int, legitimate: int) -> list[dict[str, Any]]:
    """Test-period transactions the model decides fraud, and others it decides legitimate."""
    data = project / "data"
    predictions = pd.read_parquet(data / "07_model_output/test_predictions.parquet")
    chosen = pd.concat(
        [
            predictions[predictions["predicted"] == 1].head(fraud),
            predictions[predictions["predicted"] == 0].head(legitimate),
        ]
    )["transaction_id"]
    assert len(chosen) == fraud + legitimate
    scoring_input = pd.read_parquet(data / "04_feature/scoring_input.parquet")
    rows = scoring_input[scoring_input["transaction_id"].isin(chosen)]
    return request_records(rows.sort_values("transaction_id").reset_index(drop=True))


def post(url: str, body: Any, content_type: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(
        f"{url}/predict", content=content, headers={"Content-Type": content_type}, timeout=30
    )


def tx(**change: Any) -> dict[str, Any]:
    return {"transactions": [{**EXAMPLE_TRANSACTION, **change}]}


# (body, content type, status, reason): each refused the way docs/serving.md says
REFUSED = [
    ('{"transactions": [', "application/json", 400, "malformed_json"),
    ('{"transactions": [', "application/json", 400, "malformed_json"),
    (tx(amount=-3.0), "application/json", 400, "invalid_field"),
    (tx(merchant_category="casino"), "application/json", 400, "invalid_field"),
    ({"transactions": []}, "application/json", 400, "empty"),
    ({"transactions": [EXAMPLE_TRANSACTION] * 2}, "application/json", 400, "duplicate_id"),
    (REQUEST, "text/plain", 415, "unsupported_media_type"),
    (REQUEST, "text/plain", 415, "unsupported_media_type"),
    (tx(channel="in_store"), "application/json", 422, "contract_check"),
    (tx(channel="in_store"), "application/json", 422, "contract_check"),
]
BATCH_SIZES = [1, 2, 3, 5, 8, 11]
"""Transactions per valid request: 30 in 6 requests."""


@pytest.fixture(scope="module")
def traffic(server: str, prometheus: Prometheus, packaged_model: PackagedModel) -> Traffic:
    """Known traffic, sent between two scrapes of the service.

    A first round creates every series (a counter series appears with its first request, and a
    rate needs a sample before the increase); once Prometheus has scraped it, the measured round
    is sent and the test waits for the scrape that holds all of it.
    """
    total = f'sum(bentoml_service_request_total{{job="{prometheus.job}", endpoint="/predict"}})'
    warm_up = [(REQUEST, "application/json", 200), *[r[:3] for r in REFUSED[::2]]]
    for body, content_type, status in warm_up:
        response = post(server, body, content_type)
        assert response.status_code == status, response.text
    wait_for(lambda: prometheus.scalar(total) == len(warm_up), "the first round is scraped")
    before = prometheus.last_scrape()

    records = scoring_records(packaged_model.project, fraud=8, legitimate=sum(BATCH_SIZES) - 8)
    statuses: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    probabilities: list[float] = []
    slowest = 0.0
    start = 0
    for size in BATCH_SIZES:
        response = post(server, {"transactions": records[start : start + size]})
        start += size
        assert response.status_code == 200, response.text
        statuses["200"] += 1
        slowest = max(slowest, response.elapsed.total_seconds())
        for prediction in response.json()["predictions"]:
            decisions["fraud" if prediction["is_fraud"] else "legitimate"] += 1
            probabilities.append(prediction["fraud_probability"])
    reasons: Counter[str] = Counter()
    for body, content_type, status, reason in REFUSED:
        response = post(server, body, content_type)
        assert response.status_code == status, response.text
        statuses[str(status)] += 1
        reasons[reason] += 1

    sent = len(warm_up) + sum(statuses.values())
    wait_for(lambda: prometheus.scalar(total) == sent, "the measured round is scraped")
    # The live drift counts are published by each worker every few seconds: wait for them too.
    scored = len(REQUEST["transactions"]) + len(probabilities)
    rows = f'max(fraud_detection_drift_window_rows{{job="{prometheus.job}"}})'
    wait_for(lambda: prometheus.scalar(rows) == scored, "the drift window is scraped")
    after = prometheus.last_scrape()
    return Traffic(
        prometheus=prometheus,
        at=after,
        # +1 ms: a range selector is left-closed in Prometheus 2, left-open in 3; either way the
        # range starts at the scrape before the traffic (and extrapolates by 1 ms at most)
        window_ms=round((after - before) * 1000) + 1,
        statuses=statuses,
        reasons=reasons,
        decisions=decisions,
        probabilities=probabilities,
        slowest_scored=slowest,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("title", "ref_id", "expr"), QUERIES, ids=[f"{t}/{r}" for t, r, _ in QUERIES]
)
def test_every_dashboard_query_returns_data_from_the_service(traffic, title, ref_id, expr):
    """Each query of the dashboard, as Grafana would send it, returns numbers from the scrape."""
    result = traffic.query(expr)

    assert result, f"{title} ({ref_id}) shows no data: {expr}"
    for series in result:
        assert math.isfinite(float(series["value"][1])), f"{title} ({ref_id}): {series}"


def approx(expected: dict[Any, float]) -> Any:
    return pytest.approx(expected, abs=0.05)


def nonzero(counts: dict[str, float]) -> dict[str, float]:
    """Without the series at zero (BentoML creates some, e.g. status 500, before any use)."""
    return {key: value for key, value in counts.items() if abs(value) > 0.05}


@pytest.mark.slow
def test_request_panels_count_every_request_sent_by_status(traffic):
    """Request rate and errors by status add up to the requests sent, per status code; no 5xx."""
    sent = sum(traffic.statuses.values())

    assert nonzero(traffic.counts("Request rate")) == approx(dict(traffic.statuses))
    assert traffic.counts("Requests per second") == approx({"": sent})
    errors = {code: n for code, n in traffic.statuses.items() if not code.startswith("2")}
    assert nonzero(traffic.counts("Errors by status code")) == approx(errors)
    assert traffic.panel("Server errors (5xx)") == approx({"": 0})
    assert traffic.panel("Targets up") == {"": 1}
    assert traffic.panel("In flight") == {"": 0}


@pytest.mark.slow
def test_prediction_panels_count_every_transaction_scored_by_decision(traffic):
    """Predictions by decision are the decisions the responses carried, both of them."""
    assert traffic.decisions["fraud"] > 0
    assert traffic.decisions["legitimate"] > 0

    assert traffic.counts("Predictions by decision") == approx(dict(traffic.decisions))
    share = traffic.decisions["fraud"] / sum(traffic.decisions.values())
    assert traffic.panel("Flagged as fraud") == pytest.approx({"": share}, rel=1e-3)


@pytest.mark.slow
def test_rejected_requests_panel_names_each_reason(traffic):
    """Every refused request is counted under its reason; reasons not sent show zero."""
    expected = {reason: traffic.reasons[reason] for reason in REJECTION_REASONS}

    assert traffic.counts("Rejected requests by reason") == approx(expected)


@pytest.mark.slow
@pytest.mark.parametrize("title", ["Fraud probability distribution", "Fraud probability over time"])
def test_probability_panels_hold_the_scores_returned(traffic, title):
    """The histogram buckets hold the returned probabilities: count at or below each bound."""
    probabilities = traffic.probabilities
    expected = {bound: sum(p <= bound for p in probabilities) for bound in PROBABILITY_BUCKETS}
    expected[math.inf] = len(probabilities)

    buckets = {float(le): count for le, count in traffic.panel(title).items()}

    assert buckets == approx(expected)


@pytest.mark.slow
def test_latency_panel_shows_quantiles_the_responses_allow(traffic):
    """0 < p50 <= p99 <= the first bucket bound above the slowest response the client saw."""
    metrics = httpx.get(f"http://{traffic.prometheus.service_address}/metrics").text
    bounds = sorted(
        {
            float(sample.labels["le"])
            for family in text_string_to_metric_families(metrics)
            for sample in family.samples
            if sample.name == "bentoml_service_request_duration_seconds_bucket"
        }
    )
    ceiling = next(bound for bound in bounds if bound >= traffic.slowest_scored)

    (p50,) = traffic.panel("Latency p50 / p99", "A").values()
    (p99,) = traffic.panel("Latency p50 / p99", "B").values()

    assert 0 < p50 <= p99 <= ceiling


@pytest.mark.slow
def test_every_metric_the_dashboard_uses_is_on_the_metrics_page(traffic):
    """Each metric name in the dashboard's queries is served on /metrics (a rename fails here)."""
    metrics = httpx.get(f"http://{traffic.prometheus.service_address}/metrics").text
    served = {
        sample.name
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    used = {metric for _, _, expr in QUERIES for metric, _ in SELECTOR.findall(expr)}
    used.discard("up")  # made by Prometheus for each scrape

    assert used - served == set()


@pytest.mark.slow
def test_pod_discovery_scrapes_only_the_annotated_running_pods_of_the_app(traffic):
    """prometheus-kubernetes.yml's relabeling keeps the running, opted-in pod of the app, scrapes
    it on the annotated port and path, and labels it with its namespace and pod."""
    prometheus = traffic.prometheus

    def pods_up() -> bool:
        targets = httpx.get(f"{prometheus.url}/api/v1/targets", timeout=10).json()["data"]
        active = [t for t in targets["activeTargets"] if t["scrapePool"] == prometheus.pods_job]
        return bool(active) and all(t["health"] == "up" for t in active)

    wait_for(pods_up, "the pod discovered is scraped")
    targets = httpx.get(f"{prometheus.url}/api/v1/targets", timeout=10).json()["data"]
    (active,) = [t for t in targets["activeTargets"] if t["scrapePool"] == prometheus.pods_job]
    dropped = {
        t["discoveredLabels"]["__meta_kubernetes_pod_name"]
        for t in targets["droppedTargets"]
        if t["discoveredLabels"]["job"] == prometheus.pods_job
    }

    assert active["scrapeUrl"] == f"http://{prometheus.service_address}/metrics"
    assert active["labels"]["namespace"] == "fraud"
    assert active["labels"]["pod"] == "fraud-detection-5c9d7-x2kq"
    assert dropped == set(FAKE_PODS) - {"fraud-detection-5c9d7-x2kq"}


@pytest.mark.slow
def test_alert_rules_evaluate_on_the_services_series(traffic):
    """Prometheus loads alerts.yml and evaluates every rule on the real series without error:
    the refused requests (most of them) make the rejection alert pending, no 5xx alert."""
    prometheus = traffic.prometheus

    def current_rules() -> dict[str, dict[str, Any]]:
        groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        return {rule["name"]: rule for group in groups for rule in group["rules"]}

    def evaluated_after_the_traffic() -> bool:
        return all(
            pd.Timestamp(rule["lastEvaluation"]).timestamp() > traffic.at
            for rule in current_rules().values()
        )

    wait_for(evaluated_after_the_traffic, "every rule is evaluated on the measured round")
    rules = current_rules()

    assert set(rules) == {
        "FraudDetectionDown",
        "FraudDetectionServerErrors",
        "FraudDetectionSlowRequests",
        "FraudDetectionManyRejections",
        "FraudDetectionInputDrift",
        "FraudDetectionScoreDrift",
        "FraudDetectionPredictionLogDropping",
    }
    assert all(rule["health"] == "ok" for rule in rules.values()), rules
    assert rules["FraudDetectionManyRejections"]["state"] == "pending"
    assert rules["FraudDetectionServerErrors"]["state"] == "inactive"
    assert rules["FraudDetectionDown"]["state"] == "inactive"
    assert rules["FraudDetectionPredictionLogDropping"]["state"] == "inactive"


@pytest.mark.slow
def test_drift_panels_show_the_live_window_of_what_was_scored(traffic):
    """The live window holds every transaction scored; each monitored column has its drift
    ratio; the score's shares, window and reference, each add up to one."""
    scored = len(REQUEST["transactions"]) + len(traffic.probabilities)

    assert traffic.panel("Live drift window") == {"": scored}
    ratios = traffic.panel("Drift by column (statistic / threshold)")
    assert {"amount", "merchant_category", "fraud_probability", "is_fraud"} <= set(ratios)
    assert all(value >= 0 for value in ratios.values())
    (expr,) = [e for t, _, e in QUERIES if t == "Score distribution against the reference"]
    sides: dict[str, float] = {}
    for series in traffic.query(expr):
        side = series["metric"]["side"]
        sides[side] = sides.get(side, 0.0) + float(series["value"][1])
    assert sides == pytest.approx({"window": 1.0, "reference": 1.0})
