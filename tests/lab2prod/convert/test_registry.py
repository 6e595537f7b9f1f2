"""Nothing Kedro would reject is ever written: the check of generated pipelines in the project."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lab2prod.convert.project import Generated, Project, generate
from lab2prod.convert.registry import check_in_project
from lab2prod.convert.sync import write_conversion
from lab2prod.errors import ConversionError, GeneratedPipelineError
from tests.lab2prod.convert.conftest import PACKAGE, make_corpus_project

PIPELINE = f"src/{PACKAGE}/pipelines/tags/pipeline.py"
NODES = f"src/{PACKAGE}/pipelines/tags/nodes.py"
CATALOG = "conf/base/catalog_tags.yml"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """The corpus project, with one pipeline already converted into it."""
    project = Project.at(make_corpus_project(tmp_path / "project"))
    write_conversion(project, generate(project, "notebooks/mutation_in_place.ipynb", "mutation"))
    return project


def _edited(generated: Generated, path: str, old: str, new: str) -> Generated:
    """The conversion with one generated file edited: a stand-in for a converter bug."""
    assert old in generated.files[path], generated.files[path]
    files = dict(generated.files)
    files[path] = files[path].replace(old, new, 1)
    return dataclasses.replace(generated, files=files)


BUGS = [
    (
        "two producers",
        PIPELINE,
        'outputs="orders_drop_cancelled"',
        'outputs=["orders_drop_cancelled", "mean_amount"]',
        "OutputNotUniqueError",
    ),
    (
        "a cycle",
        PIPELINE,
        'inputs="orders"',
        'inputs="mean_amount"',
        "CircularDependencyError",
    ),
    (
        "a node name twice",
        PIPELINE,
        'name="summarise"',
        'name="drop_cancelled"',
        "unique names",
    ),
    (
        "an input nobody makes",
        PIPELINE,
        'inputs="orders_drop_cancelled"',
        'inputs="orders_nowhere"',
        "'tags.orders_nowhere'] are neither produced",
    ),
    (
        "a catalog key another file declares",
        CATALOG,
        "tags.mean_amount:",
        "mutation.summary:",
        "Duplicate keys",
    ),
    (
        "a dataset type that does not exist",
        CATALOG,
        "type: json.JSONDataset",
        "type: json.NoSuchDataset",
        "NoSuchDataset",
    ),
    (
        "generated code that does not run",
        NODES,
        "import pandas as pd",
        "import pandas as pd\nundefined_name",
        "NameError",
    ),
]


@pytest.mark.parametrize(("what", "path", "old", "new", "says"), BUGS, ids=[bug[0] for bug in BUGS])
def test_a_generated_pipeline_kedro_rejects_is_a_converter_bug(
    project: Project, what: str, path: str, old: str, new: str, says: str
):
    """Whatever Kedro would reject is refused as a converter bug, quoting Kedro's error."""
    generated = generate(project, "notebooks/node_tags_and_skip.ipynb", "tags")
    check_in_project(project, generated)  # as generated: fine
    broken = _edited(generated, path, old, new)
    with pytest.raises(GeneratedPipelineError) as caught:
        check_in_project(project, broken)
    message = str(caught.value)
    assert "this is a bug in the converter" in message, what
    assert "Nothing was written" in message
    assert says in message, message


def test_the_check_leaves_no_module_or_file_behind(project: Project):
    """After a check, the project's package imports from disk again and nothing was written."""
    import sys

    before = sorted(p.relative_to(project.path) for p in project.path.rglob("*") if p.is_file())
    check_in_project(project, generate(project, "notebooks/node_tags_and_skip.ipynb", "tags"))
    after = sorted(p.relative_to(project.path) for p in project.path.rglob("*") if p.is_file())
    assert after == before
    assert not [name for name in sys.modules if name.split(".")[0] == PACKAGE]


def test_a_project_whose_pipelines_already_fail_is_named_as_such(project: Project):
    """A registry broken before the conversion is the project's problem, said so plainly."""
    registry = project.path / "src" / PACKAGE / "pipeline_registry.py"
    registry.write_text(registry.read_text().replace("find_pipelines(", "find_pipelinez("))
    generated = generate(project, "notebooks/node_tags_and_skip.ipynb", "tags")
    with pytest.raises(ConversionError) as caught:
        check_in_project(project, generated)
    assert not isinstance(caught.value, GeneratedPipelineError)
    assert "The project's pipelines fail to load even without this conversion" in str(caught.value)


def test_a_package_the_environment_lacks_is_named_with_the_fix(project: Project):
    """Generated nodes importing a missing package would break `kedro`: refused, naming it."""
    generated = generate(project, "notebooks/node_tags_and_skip.ipynb", "tags")
    broken = _edited(generated, NODES, "import pandas as pd", "import pandas as pd\nimport nopkg_x")
    with pytest.raises(ConversionError) as caught:
        check_in_project(project, broken)
    assert "import `nopkg_x`, which is not installed" in str(caught.value)
    assert "Add it to the project's dependencies" in str(caught.value)


def test_a_dataset_the_catalog_lacks_is_named_with_its_variable_and_cell(project: Project):
    """`catalog.load("x")` of a dataset nobody declares: the variable and cell, not a traceback."""
    path = project.path / "notebooks" / "loads.ipynb"
    cells = [
        ("code", "%load_ext kedro.ipython"),
        ("markdown", "## Count"),
        ("code", 'orders = catalog.load("orders_raw")\nn = len(orders)'),
    ]
    raw = [
        {"cell_type": kind, "metadata": {}, "source": source}
        | ({"outputs": [], "execution_count": None} if kind == "code" else {})
        for kind, source in cells
    ]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": raw}))
    generated = generate(project, path, "loads")
    with pytest.raises(ConversionError) as caught:
        check_in_project(project, generated)
    error = caught.value
    assert not isinstance(error, GeneratedPipelineError)
    assert (error.cell, error.line, error.construct) == (2, 1, "undeclared dataset")
    assert "loads.ipynb, code cell 2, line 1: `orders` reads the dataset `orders_raw`" in str(error)
    assert "Did you mean `orders`?" in str(error)
