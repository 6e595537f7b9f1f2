"""`import lab2prod` stays light: `kedro` imports it on every command."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("papermill", "nbconvert", "nbclient", "nbformat", "jupyter_client", "pandas", "matplotlib")


def _imported_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return set(result.stdout.split())


def test_import_and_cli_load_no_heavy_library():
    """`import lab2prod; import lab2prod.cli` imports no papermill, nbconvert, pandas, ..."""
    assert not _imported_after("import lab2prod\nimport lab2prod.cli") & set(HEAVY)


def test_building_a_notebook_node_loads_no_notebook_machinery():
    """A pipeline that builds notebook nodes loads no papermill until a notebook runs."""
    code = (
        "from lab2prod import notebook_node\n"
        "notebook_node('tests/fixtures/notebooks/unknown_parameter.ipynb',"
        " parameters=['learning_rate'])"
    )
    assert not _imported_after(code) & set(HEAVY)


def test_public_api_is_exported_lazily():
    """`record` and `notebook_node` come from the package root and are listed in it."""
    import lab2prod

    assert {"record", "notebook_node"} <= set(lab2prod.__all__) & set(dir(lab2prod))
    assert callable(lab2prod.record) and callable(lab2prod.notebook_node)
