"""lab2prod's uses of BentoML's private API, checked against the BentoML the bento packs."""

from __future__ import annotations

from importlib.metadata import version

import bentoml
import yaml

from lab2prod.serving import internals
from tests.conftest import ROOT


def test_internals_were_written_for_the_bentoml_the_bento_installs():
    """A BentoML upgrade (in uv.lock and bentofile.yaml) must revisit lab2prod.serving.internals
    first: this fails until its pinned version is updated with it."""
    packages = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    assert f"bentoml=={internals.BENTOML_VERSION}" in packages
    assert version("bentoml") == internals.BENTOML_VERSION


def test_configured_workers_reads_the_services_declaration():
    """The worker count ``bentoml serve`` would start: the service's own ``workers=``."""

    @bentoml.service(workers=3)
    class Three:
        @bentoml.api
        def echo(self, text: str) -> str:
            return text

    @bentoml.service(workers="cpu_count")
    class PerCore:
        @bentoml.api
        def echo(self, text: str) -> str:
            return text

    assert internals.configured_workers(Three) == 3
    assert internals.configured_workers(PerCore) == "cpu_count"


OVERRIDDEN = """
import bentoml
from lab2prod.serving import internals

@bentoml.service(workers="cpu_count")
class PerCore:
    @bentoml.api
    def echo(self, text: str) -> str:
        return text

print(internals.configured_workers(PerCore))
"""


def test_configured_workers_follow_a_bentoml_config_override(tmp_path):
    """``BENTOML_CONFIG`` (how an operator sets workers without touching the code) wins."""
    import os
    import subprocess
    import sys

    config = tmp_path / "bentoml.yaml"
    config.write_text("services:\n  PerCore:\n    workers: 5\n")
    out = subprocess.run(
        [sys.executable, "-c", OVERRIDDEN],
        env={**os.environ, "BENTOML_CONFIG": str(config)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[-1] == "5"
