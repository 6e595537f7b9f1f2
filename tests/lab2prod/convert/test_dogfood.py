"""The example project's converted pipelines are in sync with their notebooks."""

from __future__ import annotations

from lab2prod.convert.project import Project
from lab2prod.convert.sync import check_conversions, read_ledger
from tests.conftest import ROOT


def test_the_example_is_in_sync_with_its_notebooks():
    """`kedro notebook check` on this repository finds nothing stale or edited."""
    project = Project.at(ROOT)
    assert "customer_profiles" in read_ledger(project)
    problems = check_conversions(project)
    assert problems == [], "\n".join(p.render() for p in problems)
