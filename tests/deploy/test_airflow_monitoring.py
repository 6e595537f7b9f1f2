"""The Airflow DAG of the monitoring pipeline, generated as the training one is, with the
project's template (its own dag_id) and conf/base/airflow.yml's daily schedule.

Airflow is not installed here: the DAG is read as Python source, never imported.
"""

from __future__ import annotations

import ast
import graphlib

import pytest

from tests.conftest import ROOT, kedro, make_project_copy
from tests.deploy.test_airflow import TEMPLATE, parse_dag, registered

PIPELINE = "monitoring"
DAG_FILE = ROOT / "deploy" / "airflow" / "fraud_detection_monitoring_dag.py"
CREATE = (
    "airflow",
    "create",
    "--pipelines",
    PIPELINE,
    "--group-by",
    "memory",
    "--jinja-file",
    "deploy/airflow/dag_template.j2",
)
REGENERATE = f"kedro {' '.join(CREATE)} --target-dir deploy/airflow"
"""The command that writes DAG_FILE, from the repository root (docs/operations/airflow.md)."""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The DAG generated again in a project copy (conf/base only, as committed)."""
    project = make_project_copy(tmp_path_factory.mktemp("airflow_monitoring") / "project")
    (project / "deploy" / "airflow").mkdir(parents=True)
    (project / "deploy" / "airflow" / TEMPLATE.name).write_text(TEMPLATE.read_text())
    result = kedro(project, *CREATE, "--target-dir", "dags")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return (project / "dags" / DAG_FILE.name).read_text()


def test_committed_monitoring_dag_is_what_kedro_airflow_generates(generated: str):
    """deploy/airflow/ holds exactly what the documented command generates."""
    assert generated == DAG_FILE.read_text(), (
        f"{DAG_FILE.relative_to(ROOT)} is stale: regenerate it from the repository root with "
        f"`{REGENERATE}` and review the diff"
    )
    assert REGENERATE in (ROOT / "docs" / "operations" / "airflow.md").read_text()


def test_monitoring_dag_is_daily_with_an_id_of_its_own():
    """dag_id fraud-detection-monitoring (the training DAG's is fraud-detection), @daily."""
    tree = ast.parse(DAG_FILE.read_text())
    (call,) = (
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dag"
    )
    keywords = {k.arg: k.value for k in call.keywords}
    assert ast.literal_eval(keywords["dag_id"]) == "fraud-detection-monitoring"
    assert ast.literal_eval(keywords["schedule"]) == "@daily"


def test_monitoring_dag_runs_each_node_in_a_task_of_its_own_in_pipeline_order():
    """What the nodes hand each other is in the catalog: one task per node, and the edges are
    the pipeline's dependencies."""
    pipeline = registered(PIPELINE)
    tasks, edges = parse_dag(DAG_FILE.read_text())
    assert sorted(name for names in tasks.values() for name in names) == sorted(
        node.name for node in pipeline.nodes
    )
    assert all(len(names) == 1 for names in tasks.values())
    task_of = {names[0]: task for task, names in tasks.items()}
    expected = {
        (task_of[parent.name], task_of[child.name])
        for child, parents in pipeline.node_dependencies.items()
        for parent in parents
    }
    assert edges == expected
    graph: dict[str, set[str]] = {task: set() for task in tasks}
    for parent, child in edges:
        graph[child].add(parent)
    order = list(graphlib.TopologicalSorter(graph).static_order())
    assert order[0] == task_of["monitoring_profile"]
    assert order[-1] == task_of["monitoring_report"]


def test_training_dag_does_not_run_the_monitoring():
    """The monitoring is not in __default__: the training DAG has none of its nodes."""
    tasks, _ = parse_dag((ROOT / "deploy/airflow/fraud_detection_dag.py").read_text())
    training_nodes = {name for names in tasks.values() for name in names}
    assert not training_nodes & {node.name for node in registered(PIPELINE).nodes}
    assert "build_reference" in training_nodes
