"""The plan and sync state as the JupyterLab panel reads them (``convert/explain.py``).

The panel's TypeScript (labextension/src/api.ts) reads exactly the keys checked by
``assert_plan_shape``: a change of the plan that would break the panel fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab2prod.convert.explain import default_pipeline, explain, sync_state
from lab2prod.convert.project import Project, generate
from lab2prod.convert.sync import write_conversion
from lab2prod.errors import NotebookReadError
from tests.conftest import ROOT
from tests.lab2prod.convert.conftest import make_corpus_project

EXAMPLE = "notebooks/02_customer_profiles.ipynb"

PORT = {"variable": str, "dataset": str, "type": (str, type(None))}
DROP = {"cell": (int, type(None)), "code_cell": int, "line": int, "text": str, "reason": str}
NODE = {
    "name": str,
    "heading": (str, type(None)),
    "cells": list,
    "code_cells": list,
    "inputs": list,
    "parameters": list,
    "outputs": list,
    "copies": list,
    "drops": list,
}
DATASET = {
    "name": str,
    "role": str,
    "producer": (str, type(None)),
    "consumers": list,
    "catalog": (dict, type(None)),
    "new_entry": bool,
}
LEFT_OUT = {"text": str, "reason": str, "cells": list, "code_cells": list}


def has_shape(value: dict[str, Any], shape: dict[str, Any], where: str) -> None:
    missing = sorted(set(shape) - set(value))
    assert not missing, f"{where}: the panel reads {missing}, which the plan no longer has"
    for key, kind in shape.items():
        assert isinstance(value[key], kind), f"{where}.{key} is {value[key]!r}, not {kind}"


def assert_plan_shape(plan: dict[str, Any]) -> None:
    """Every key and type labextension/src/api.ts's ``IPlan`` relies on."""
    has_shape(plan, {"notebook": str, "pipeline": str, "nodes": list, "datasets": list}, "plan")
    has_shape(plan, {"left_out": list, "skipped": list, "setup_drops": list, "files": list}, "plan")
    assert plan["error"] is None
    for node in plan["nodes"]:
        has_shape(node, NODE, f"node {node.get('name')}")
        for port in node["inputs"] + node["parameters"] + node["outputs"]:
            has_shape(port, PORT, f"node {node['name']} port")
        for drop in node["drops"]:
            has_shape(drop, DROP, f"node {node['name']} drop")
    for dataset in plan["datasets"]:
        has_shape(dataset, DATASET, f"dataset {dataset.get('name')}")
        assert dataset["role"] in ("input", "parameter", "intermediate", "result")
    for item in plan["left_out"]:
        has_shape(item, LEFT_OUT, "left_out")
    json.dumps(plan)  # plain JSON, as the server sends it


@pytest.fixture(scope="module")
def repository() -> Project:
    """The repository's own project: its example notebook is what a new user opens first."""
    return Project.at(ROOT)


@pytest.fixture
def corpus(tmp_path: Path) -> Project:
    """The conversion corpus in a project of its own, nothing converted yet."""
    return Project.at(make_corpus_project(tmp_path / "project"))


def notebook_json(project: Project, relative: str) -> dict[str, Any]:
    return json.loads((project.path / relative).read_text(encoding="utf-8"))


def test_example_plan_lists_the_nodes_with_their_cells_and_datasets(repository: Project):
    """The example's four nodes, each pointing at the notebook cell it comes from."""
    plan = explain(repository, EXAMPLE)
    assert_plan_shape(plan)
    assert plan["pipeline"] == "customer_profiles"  # recorded in conf/base/notebooks.yml
    assert [n["name"] for n in plan["nodes"]] == [
        "profile_each_customer",
        "flag_high_spenders",
        "spend_distribution",
        "rank_customers",
    ]
    cells = notebook_json(repository, EXAMPLE)["cells"]
    for node in plan["nodes"]:
        for index in node["cells"]:
            assert cells[index]["cell_type"] == "code"
    first = plan["nodes"][0]
    assert "groupby" in "".join(cells[first["cells"][0]]["source"])
    flag = plan["nodes"][1]
    assert [p["variable"] for p in flag["parameters"]] == [
        "min_transactions",
        "high_spender_quantile",
    ]
    roles = {d["name"]: d["role"] for d in plan["datasets"]}
    assert roles["raw_transactions"] == "input"
    rank = plan["nodes"][3]
    assert [roles[o["dataset"]] for o in rank["outputs"]] == ["result", "result"]
    assert [o["variable"] for o in rank["outputs"]] == ["customer_profiles", "profile_summary"]
    assert all(roles[o["dataset"]] == "intermediate" for o in first["outputs"])
    raw = next(d for d in plan["datasets"] if d["name"] == "raw_transactions")
    assert raw["catalog"]["filepath"] == "data/01_raw/transactions.parquet"
    assert raw["consumers"] == ["profile_each_customer"]
    spend = plan["nodes"][2]  # a section that plots is a node: its figures are a result
    assert "plt.subplots" in "".join(cells[spend["cells"][0]]["source"])
    assert [roles[o["dataset"]] for o in spend["outputs"]] == ["result"]
    assert plan["left_out"] == []


def test_the_plan_is_the_one_kedro_notebook_convert_follows(repository: Project):
    """Same call as the CLI: nodes, inputs, outputs and files are generate()'s."""
    plan = explain(repository, EXAMPLE)
    generated = generate(repository, EXAMPLE, "customer_profiles")
    assert [n["name"] for n in plan["nodes"]] == [n.name for n in generated.plan.nodes]
    for shown, node in zip(plan["nodes"], generated.plan.nodes, strict=True):
        shown_inputs = [p["dataset"] for p in shown["inputs"] + shown["parameters"]]
        assert sorted(shown_inputs) == sorted(i.dataset for i in node.inputs)
        assert [p["dataset"] for p in shown["outputs"]] == [o.dataset for o in node.outputs]
        assert shown["code_cells"] == list(node.cells)
    assert plan["files"] == sorted(generated.files)


def test_unsaved_content_is_planned_as_the_editor_holds_it(repository: Project):
    """A `skip` tag added in the editor takes its node out before the notebook is saved."""
    content = notebook_json(repository, EXAMPLE)
    last = max(
        i
        for i, c in enumerate(content["cells"])
        if c["cell_type"] == "code" and "customer_profiles =" in "".join(c["source"])
    )
    content["cells"][last].setdefault("metadata", {})["tags"] = ["skip"]
    plan = explain(repository, EXAMPLE, content=content)
    assert "rank_customers" not in [n["name"] for n in plan["nodes"]]
    assert plan["skipped"] == [
        {"cell": last, "code_cell": plan["skipped"][0]["code_cell"], "reason": "tagged 'skip'"}
    ]
    on_disk = explain(repository, EXAMPLE)
    assert "rank_customers" in [n["name"] for n in on_disk["nodes"]]


def test_node_tags_and_skipped_cells(corpus: Project):
    """A `node:` tag names its node; a skipped cell is listed with its reason."""
    plan = explain(corpus, "notebooks/node_tags_and_skip.ipynb", pipeline="tags")
    assert_plan_shape(plan)
    assert [n["name"] for n in plan["nodes"]] == ["drop_cancelled", "summarise"]
    assert [s["reason"] for s in plan["skipped"]] == ["tagged 'skip'"]
    cells = notebook_json(corpus, "notebooks/node_tags_and_skip.ipynb")["cells"]
    assert cells[plan["skipped"][0]["cell"]]["metadata"]["tags"] == ["skip"]
    assert plan["nodes"][0]["cells"] == [
        i for i, c in enumerate(cells) if "node:drop_cancelled" in c["metadata"].get("tags", [])
    ]


@pytest.mark.parametrize(
    ("stem", "construct", "message"),
    [
        ("reads_skipped_cell", "skipped", "which is tagged 'skip'"),
        ("exec_call", "exec", "`exec` cannot be converted"),
        ("star_import", "star import", "import"),
    ],
)
def test_a_refused_conversion_is_an_error_pointing_at_its_cell(
    corpus: Project, stem: str, construct: str, message: str
):
    """The panel shows the converter's own message and can select the offending cell."""
    plan = explain(corpus, f"notebooks/{stem}.ipynb")
    error = plan["error"]
    assert error is not None, plan
    assert message in error["message"]
    assert error["message"].startswith(f"notebooks/{stem}.ipynb, code cell ")
    assert construct in error["construct"]
    cells = notebook_json(corpus, f"notebooks/{stem}.ipynb")["cells"]
    assert error["cell"] is not None
    assert cells[error["cell"]]["cell_type"] == "code"
    assert "nodes" not in plan


def test_a_bad_pipeline_name_is_an_error_not_a_crash(corpus: Project):
    """A name that is not an identifier gets the CLI's message."""
    plan = explain(corpus, "notebooks/loops.ipynb", pipeline="my-pipeline")
    assert "is not a Python identifier" in plan["error"]["message"]


def test_content_that_is_not_a_notebook_is_refused(corpus: Project):
    """The editor's content must be nbformat 4."""
    with pytest.raises(NotebookReadError, match="not in nbformat 4"):
        explain(corpus, "notebooks/loops.ipynb", content={"cells": []})


@pytest.mark.parametrize(
    ("notebook", "expected"),
    [
        ("notebooks/02_customer_profiles.ipynb", "customer_profiles"),
        ("notebooks/01_explore_transactions.ipynb", "explore_transactions"),
        ("notebooks/3 - Clean Data.ipynb", "clean_data"),
        ("notebooks/2024.ipynb", "notebook"),
    ],
)
def test_default_pipeline_name(repository: Project, notebook: str, expected: str):
    """The recorded pipeline, else the file name without its leading numbers."""
    assert default_pipeline(repository, notebook) == expected


def test_sync_state_follows_convert_edit_and_hand_edits(corpus: Project):
    """not converted -> in sync -> stale (unsaved edit) -> edited (hand-edited file)."""
    notebook = "notebooks/loops.ipynb"
    assert sync_state(corpus, notebook)["state"] == "not-converted"
    write_conversion(corpus, generate(corpus, notebook, "loops"))
    assert sync_state(corpus, notebook) == {
        "notebook": notebook,
        "pipelines": ["loops"],
        "problems": [],
        "state": "in-sync",
    }
    content = notebook_json(corpus, notebook)
    assert sync_state(corpus, notebook, content=content)["state"] == "in-sync"
    content["cells"][-1]["source"] = ["totals = []\n"]
    stale = sync_state(corpus, notebook, content=content)
    assert stale["state"] == "stale"
    assert stale["problems"][0]["path"] == notebook
    nodes = corpus.path / "src" / "corpus" / "pipelines" / "loops" / "nodes.py"
    nodes.write_text(nodes.read_text() + "# tweak\n")
    edited = sync_state(corpus, notebook)
    assert edited["state"] == "edited"
    assert [p["path"] for p in edited["problems"]] == ["src/corpus/pipelines/loops/nodes.py"]
