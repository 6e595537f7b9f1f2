"""Property-based tests of the service against its own OpenAPI spec (the schemathesis CLI).

Requests generated from /docs.json, valid and invalid, must never get a 5xx, and every response
must match what the spec documents: status, content type, headers, body schema; invalid data
must be refused. Schema-valid requests may still be refused (422): the data contract's
cross-field checks (an in-store payment has its card present, a currency is the country's)
cannot be written in OpenAPI, so ``positive_data_acceptance`` is not among the checks.

The CLI, not ``schemathesis.pytest.from_fixture``: with pytest 9 the lazy loader fails on
``Function._nodeid`` (schemathesis 4.32.5).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.serving.conftest import PackagedModel
from tests.serving.server import SERVICE, bentoml_serve

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Small batches keep generated requests cheap; the limit itself is part of the spec.
MAX_TRANSACTIONS = 20
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)


@pytest.fixture(scope="module")
def server(packaged_model: PackagedModel, tmp_path_factory) -> Iterator[str]:
    """The service on loopback."""
    log = tmp_path_factory.mktemp("serve") / "bentoml.log"
    with bentoml_serve(
        SERVICE,
        home=packaged_model.home,
        cwd=ROOT,
        log=log,
        env={"FRAUD_DETECTION_MAX_TRANSACTIONS": str(MAX_TRANSACTIONS)},
    ) as url:
        yield url


def test_every_response_conforms_to_the_spec_and_none_is_a_5xx(server, tmp_path):
    """No 5xx, and status, content type, headers and body as documented, for every generated
    request of every operation (examples, coverage and fuzzing phases, bounded)."""
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{server}/docs.json",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "150",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--no-color",
        ],
        cwd=tmp_path,  # no schemathesis.toml from elsewhere; its cache stays here
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 generated" not in result.stdout
