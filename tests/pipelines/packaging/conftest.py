"""The packaging tests write to a BentoML model store: a throwaway one."""

from __future__ import annotations

import pytest

from tests.serving.server import isolate_bentoml_home


def pytest_configure(config: pytest.Config) -> None:
    isolate_bentoml_home()
