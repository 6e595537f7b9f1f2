"""A tiny Kedro project holding the conversion corpus: notebooks, their data, an empty package.

The test modules import ``make_corpus_project`` and the paths from here (as the suite imports
from ``tests/conftest.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "fixtures" / "notebooks" / "convert"
DATA = ROOT / "tests" / "fixtures" / "data"
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "convert"
PACKAGE = "corpus"
"""The package of the corpus project: generated code imports ``corpus.pipelines.<name>``."""

UNSUPPORTED = (
    "star_import",
    "global_statement",
    "exec_call",
    "reads_skipped_cell",
    "shell_assignment",
    "non_literal_parameter",
)
CONVERTIBLE = tuple(sorted(p.stem for p in CORPUS.glob("*.ipynb") if p.stem not in UNSUPPORTED))


def make_corpus_project(root: Path) -> Path:
    """A Kedro project with the corpus under notebooks/ and its data under data/01_raw/.

    Its ruff settings are the repository's, so generated code is laid out as the golden files.
    """
    package = root / "src" / PACKAGE
    (package / "pipelines").mkdir(parents=True)
    (package / "__init__.py").write_text('"""The corpus project."""\n')
    (package / "pipelines" / "__init__.py").write_text('"""Converted pipelines."""\n')
    (package / "settings.py").write_text('"""Default settings."""\n')
    (package / "pipeline_registry.py").write_text(
        '"""Every pipeline found, summed as the default."""\n\n'
        "from kedro.framework.project import find_pipelines\n\n\n"
        "def register_pipelines():\n"
        "    pipelines = find_pipelines(raise_errors=True)\n"
        '    pipelines["__default__"] = sum(pipelines.values())\n'
        "    return pipelines\n"
    )
    (root / "pyproject.toml").write_text(
        f'[tool.kedro]\npackage_name = "{PACKAGE}"\nproject_name = "corpus"\n'
        'kedro_init_version = "1.7.0"\nsource_dir = "src"\n\n'
        '[tool.ruff]\nline-length = 100\ntarget-version = "py311"\n\n'
        "[tool.ruff.lint]\n"
        'select = ["E", "F", "W", "I", "B", "UP", "SIM", "RUF"]\n'
        'ignore = ["RUF001", "RUF002", "RUF003"]\n'
    )
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir()
    (root / "tests" / "pipelines").mkdir(parents=True)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "pipelines" / "__init__.py").write_text("")
    shutil.copytree(CORPUS, root / "notebooks")
    shutil.copytree(DATA, root / "data" / "01_raw")
    for layer in ("02_intermediate", "03_primary", "05_model_input", "08_reporting"):
        (root / "data" / layer).mkdir()
    return root
