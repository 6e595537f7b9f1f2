"""`kedro contract infer`: write a pandera model inferred from a catalog dataset."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from click.testing import CliRunner, Result
from kedro.framework import project as kedro_project
from kedro.framework.startup import ProjectMetadata, bootstrap_project

from lab2prod.cli import commands
from tests.conftest import kedro, make_kedro_skeleton

PACKAGE = "tiny_contracts"
CATALOG = """\
transactions:
  type: pandas.ParquetDataset
  filepath: data/01_raw/transactions.parquet

customers:
  type: polars.EagerPolarsDataset
  file_format: parquet
  filepath: data/01_raw/customers.parquet
"""


def make_tiny_project(root: Path) -> Path:
    """A minimal Kedro project: pyproject, a two-dataset catalog, its data, an empty package."""
    make_kedro_skeleton(root, PACKAGE)
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    (root / "conf" / "base" / "parameters.yml").write_text("{}\n")
    (root / "data" / "01_raw").mkdir(parents=True)
    pd.DataFrame(
        {
            "transaction_id": [f"tx-{n:03d}" for n in range(30)],
            "amount": [1.5 * n for n in range(30)],
            "channel": ["web", "pos", "atm"] * 10,
        }
    ).to_parquet(root / "data" / "01_raw" / "transactions.parquet")
    pl.DataFrame({"customer_id": range(12), "segment": ["a", "b", "c"] * 4}).write_parquet(
        root / "data" / "01_raw" / "customers.parquet"
    )
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProjectMetadata]:
    """A tiny project bootstrapped in this process; Kedro's global state is restored after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    previous = kedro_project.PACKAGE_NAME
    yield bootstrap_project(make_tiny_project(tmp_path / "tiny"))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]
    kedro_project.PACKAGE_NAME = previous


def infer(metadata: ProjectMetadata, *args: str) -> Result:
    """Run `kedro contract infer ARGS` through click, as Kedro's CLI would in the project."""
    return CliRunner().invoke(commands, ["contract", "infer", *args], obj=metadata)


def test_writes_the_module_to_the_default_path(project: ProjectMetadata):
    """With no --output, the module lands in src/<package>/contracts/<dataset>.py."""
    result = infer(project, "transactions")
    assert result.exit_code == 0, result.output
    assert f"Wrote src/{PACKAGE}/contracts/transactions.py" in result.output
    source = (project.source_dir / PACKAGE / "contracts" / "transactions.py").read_text()
    assert "class Transactions(pa.DataFrameModel):" in source
    assert 'isin=["atm", "pos", "web"]' in source
    assert "from 30 rows" in source


def test_polars_dataset_with_output_and_class_name(project: ProjectMetadata):
    """A polars dataset gets a pandera.polars model, written where --output says."""
    result = infer(project, "customers", "--output", "contracts/c.py", "--class-name", "Clients")
    assert result.exit_code == 0, result.output
    source = (project.project_path / "contracts" / "c.py").read_text()
    assert "import pandera.polars as pa" in source
    assert "class Clients(pa.DataFrameModel):" in source
    assert "customer_id: pl.Int64 = pa.Field(ge=0, le=11, unique=True, nullable=False)" in source


def test_refuses_to_overwrite_without_force(project: ProjectMetadata):
    """An existing module is kept, with exit 1 and the fix; --force replaces it."""
    target = project.source_dir / PACKAGE / "contracts" / "transactions.py"
    target.parent.mkdir(parents=True)
    target.write_text("# reviewed by hand\n")

    refused = infer(project, "transactions")
    assert refused.exit_code == 1
    assert "exists: pass --force to overwrite it" in refused.output
    assert target.read_text() == "# reviewed by hand\n"

    forced = infer(project, "transactions", "--force")
    assert forced.exit_code == 0, forced.output
    assert "class Transactions" in target.read_text()


def test_unknown_dataset_suggests_the_near_name(project: ProjectMetadata):
    """A typo exits 1 with a one-line "did you mean", no traceback and no file."""
    result = infer(project, "transactons")
    assert result.exit_code == 1
    assert "No dataset 'transactons' in the catalog; did you mean 'transactions'?" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert not (project.source_dir / PACKAGE / "contracts").exists()


def test_empty_dataset_is_a_one_line_error(project: ProjectMetadata):
    """Inferring from a dataset with no rows exits 1 with the reason and no file is written."""
    path = project.project_path / "data" / "01_raw" / "transactions.parquet"
    pd.read_parquet(path).iloc[:0].to_parquet(path)
    result = infer(project, "transactions")
    assert result.exit_code == 1
    assert "from 0 rows" in result.output
    assert isinstance(result.exception, SystemExit)
    assert not (project.source_dir / PACKAGE / "contracts").exists()


@pytest.mark.slow
def test_real_invocation(tmp_path: Path):
    """The installed `kedro contract infer` writes a module that validates the dataset."""
    root = make_tiny_project(tmp_path / "tiny")
    result = kedro(root, "contract", "infer", "transactions", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    path = root / "src" / PACKAGE / "contracts" / "transactions.py"
    assert "Wrote src/tiny_contracts/contracts/transactions.py" in result.stdout
    spec = importlib.util.spec_from_file_location("transactions_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.Transactions.validate(pd.read_parquet(root / "data/01_raw/transactions.parquet"))
