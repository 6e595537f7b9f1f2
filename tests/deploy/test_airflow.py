"""The Airflow DAG of the training flow: as kedro-airflow generates it today, and faithful to the
pipeline (every node once, in-memory data never crossing tasks, the pipeline's dependencies).

Airflow is not installed here: the DAG is read as Python source, never imported.
"""

from __future__ import annotations

import ast
import difflib
import graphlib
import importlib.util
import itertools
import re
from pathlib import Path

import kedro_airflow
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import configure_project, pipelines
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline

from tests.conftest import ROOT, kedro, make_project_copy

PIPELINE = "__default__"
DAG_FILE = ROOT / "deploy" / "airflow" / "fraud_detection_dag.py"
CREATE = ("airflow", "create", "--pipelines", PIPELINE, "--group-by", "memory")
REGENERATE = f"kedro {' '.join(CREATE)} --target-dir deploy/airflow"
"""The command that writes DAG_FILE, run from the repository root (docs/operations/airflow.md)."""
TEMPLATE = ROOT / "deploy" / "airflow" / "dag_template.j2"
"""The stock template, but a pipeline other than __default__ gets its own dag_id."""
STOCK_TEMPLATE = Path(kedro_airflow.__file__).with_name("airflow_dag_template.j2")
AIRFLOW_TASK_ID = re.compile(r"^[\w.-]{1,250}$")
"""What Airflow accepts as a task id (``airflow.utils.helpers.KEY_REGEX``, 250 characters)."""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy (conf/base only, as committed) in which the DAG was generated again."""
    project = make_project_copy(tmp_path_factory.mktemp("airflow") / "project")
    result = kedro(project, *CREATE, "--target-dir", "dags")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def registered(name: str) -> Pipeline:
    """A pipeline of the project's registry, as `kedro airflow create` finds it."""
    configure_project("fraud_detection", preserve_logging=True)
    pipelines.set_requested(None)
    return pipelines[name]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    """The registered pipeline the DAG was generated from."""
    return registered(PIPELINE)


def parse_dag(source: str) -> tuple[dict[str, list[str]], set[tuple[str, str]]]:
    """The tasks of a kedro-airflow DAG (task id -> node names) and its ``>>`` edges."""
    tasks: dict[str, list[str]] = {}
    edges: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef):
            task_id = _task_id(node)
            if task_id is not None:
                assert task_id not in tasks, f"task id {task_id!r} defined twice"
                tasks[task_id] = _node_names(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            edges.add((_task_key(node.left), _task_key(node.right)))
    return tasks, edges


def _task_id(function: ast.FunctionDef) -> str | None:
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "task":
            (keyword,) = (k for k in decorator.keywords if k.arg == "task_id")
            return ast.literal_eval(keyword.value)
    return None


def _node_names(function: ast.FunctionDef) -> list[str]:
    (call,) = (
        node
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_run_kedro_node"
    )
    (keyword,) = (k for k in call.keywords if k.arg == "node_names")
    return ast.literal_eval(keyword.value)


def _task_key(expression: ast.expr) -> str:
    # tasks["<task id>"]: the template keys its dict of task instances by task id.
    assert isinstance(expression, ast.Subscript), ast.unparse(expression)
    return ast.literal_eval(expression.slice)


def in_memory_datasets(project: Path, pipeline: Pipeline) -> set[str]:
    """The datasets nodes make that live only in the memory of the process running the node."""
    catalog = DataCatalog.from_config(
        OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")[
            "catalog"
        ]
    )
    return {
        name
        for name in pipeline.all_outputs()
        if name not in catalog or isinstance(catalog.get(name), MemoryDataset)
    }


def test_committed_dag_is_what_kedro_airflow_generates(project: Path):
    """deploy/airflow/ holds exactly what the command generates from the current pipeline."""
    generated = (project / "dags" / DAG_FILE.name).read_text()
    committed = DAG_FILE.read_text()
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            "committed",
            "generated",
        )
    )
    assert generated == committed, (
        f"{DAG_FILE.relative_to(ROOT)} is stale (the pipeline or conf/base/airflow.yml changed)."
        f" Regenerate it from the repository root with `{REGENERATE}` and review the diff:\n"
        f"{diff[:4000]}"
    )


def test_documented_command_is_the_one_tested():
    """The operations guide gives the very command this test regenerates the DAG with."""
    assert REGENERATE in (ROOT / "docs" / "operations" / "airflow.md").read_text()


def test_custom_template_is_the_stock_one_but_for_the_dag_id():
    """dag_template.j2 differs from kedro-airflow's template only in its header and dag_id line,
    so a kedro-airflow upgrade that changes the template shows here."""
    ours = [line for line in TEMPLATE.read_text().splitlines() if "dag_id=" not in line]
    stock = [line for line in STOCK_TEMPLATE.read_text().splitlines() if "dag_id=" not in line]
    header = ours.index("from __future__ import annotations")
    assert ours[0].startswith("{#-") and ours[header - 1].endswith("-#}")
    assert ours[header:] == stock, f"{STOCK_TEMPLATE} changed: carry the change into {TEMPLATE}"


def test_custom_template_gives_another_pipeline_its_own_dag_id(tmp_path: Path):
    """With dag_template.j2, __default__'s DAG is the committed one and a second pipeline's DAG
    gets an id of its own, so Airflow can load both."""
    project = make_project_copy(tmp_path / "project")
    result = kedro(
        project,
        "airflow",
        "create",
        "--pipelines",
        f"{PIPELINE},data_processing",
        "--group-by",
        "memory",
        "--jinja-file",
        str(TEMPLATE),
        "--target-dir",
        "dags",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "dags" / DAG_FILE.name).read_text() == DAG_FILE.read_text()
    second = (project / "dags" / "fraud_detection_data_processing_dag.py").read_text()
    compile(second, "fraud_detection_data_processing_dag.py", "exec")
    dag_ids = [_dag_id(DAG_FILE.read_text()), _dag_id(second)]
    assert dag_ids == ["fraud-detection", "fraud-detection-data-processing"]
    tasks, _ = parse_dag(second)
    in_dag = sorted(name for names in tasks.values() for name in names)
    assert in_dag == sorted(node.name for node in registered("data_processing").nodes)


def _dag_id(source: str) -> str:
    (call,) = (
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dag"
    )
    (keyword,) = (k for k in call.keywords if k.arg == "dag_id")
    return ast.literal_eval(keyword.value)


def test_dag_compiles_and_needs_only_airflow_beyond_the_project():
    """The DAG is valid Python, and every module it imports but Airflow is installed here."""
    source = DAG_FILE.read_text()
    tree = compile(source, str(DAG_FILE), "exec", ast.PyCF_ONLY_AST)
    compile(tree, str(DAG_FILE), "exec")
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    missing = {
        name
        for name in imported
        if name.split(".")[0] not in {"airflow", "__future__"}
        and importlib.util.find_spec(name) is None
    }
    assert "airflow.sdk" in imported, "the DAG should use Airflow 3's TaskFlow API"
    assert not missing, f"the DAG imports modules the project environment lacks: {missing}"


def test_dag_runs_every_node_once_with_in_memory_data_kept_in_one_task(
    project: Path, pipeline: Pipeline
):
    """Each node is in exactly one task; a dataset held only in memory never crosses tasks, and
    nodes share a task only when such a dataset links them."""
    tasks, _ = parse_dag(DAG_FILE.read_text())
    task_of = {name: task for task, names in tasks.items() for name in names}
    all_names = [name for names in tasks.values() for name in names]
    assert sorted(all_names) == sorted(node.name for node in pipeline.nodes)
    bad_ids = [task for task in tasks if not AIRFLOW_TASK_ID.match(task)]
    assert not bad_ids, f"task ids Airflow rejects: {bad_ids}"

    in_memory = in_memory_datasets(project, pipeline)
    assert in_memory, "expected the pipeline to keep some datasets in memory"
    links: list[tuple[str, str]] = []
    for dataset in sorted(in_memory):
        producers = [node.name for node in pipeline.nodes if dataset in node.outputs]
        consumers = [node.name for node in pipeline.nodes if dataset in node.inputs]
        for producer in producers:
            for consumer in consumers:
                assert task_of[producer] == task_of[consumer], (
                    f"{dataset!r} lives in memory, but {producer} (task {task_of[producer]}) "
                    f"makes it and {consumer} (task {task_of[consumer]}) reads it"
                )
                links.append((producer, consumer))

    # Nodes grouped only as far as needed: each task is one component of the in-memory links.
    component = {name: name for name in task_of}

    def root(name: str) -> str:
        while component[name] != name:
            name = component[name]
        return name

    for producer, consumer in links:
        component[root(producer)] = root(consumer)
    for task, names in tasks.items():
        assert len({root(name) for name in names}) == 1, (
            f"task {task} joins nodes no in-memory dataset links: {names}"
        )


def test_dag_dependencies_are_the_pipeline_dependencies(pipeline: Pipeline):
    """A task waits for exactly the tasks whose nodes make its nodes' inputs; no cycle."""
    tasks, edges = parse_dag(DAG_FILE.read_text())
    task_of = {name: task for task, names in tasks.items() for name in names}
    expected = {
        (task_of[parent.name], task_of[child.name])
        for child, parents in pipeline.node_dependencies.items()
        for parent in parents
        if task_of[parent.name] != task_of[child.name]
    }
    assert edges == expected, (
        f"missing: {sorted(expected - edges)}; unexpected: {sorted(edges - expected)}"
    )
    # Acyclic (graphlib raises CycleError otherwise), and the stages run in the training order.
    parents = _parents(edges)
    tuple(graphlib.TopologicalSorter({task: set() for task in tasks} | parents).static_order())
    stages = [
        "generate_transactions",  # data_generation
        "attach_activity",  # data_processing
        "build_features",  # inference_features
        "train_model",  # training
        "compute_metrics",  # evaluation
        "package_model",  # packaging
    ]
    for before, after in itertools.pairwise(stages):
        assert task_of[before] in _ancestors(task_of[after], parents), f"{before} -> {after}"


def _parents(edges: set[tuple[str, str]]) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {}
    for parent, child in edges:
        parents.setdefault(child, set()).add(parent)
    return parents


def _ancestors(task: str, parents: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    pending = [task]
    while pending:
        for parent in parents.get(pending.pop(), ()):
            if parent not in found:
                found.add(parent)
                pending.append(parent)
    return found
