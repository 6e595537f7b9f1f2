"""Golden files: each corpus notebook converts into exactly the reviewed files.

The goldens under tests/fixtures/golden/convert/<notebook>/ mirror the paths of the project the
conversion writes into. Regenerate them on purpose only, then review the diff:

    REGENERATE_GOLDEN=1 .venv/bin/pytest tests/lab2prod/convert/test_golden.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab2prod.convert.project import Project, generate
from tests.lab2prod.convert.conftest import CONVERTIBLE, GOLDEN, make_corpus_project

RUFF = Path(sys.executable).with_name("ruff")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The corpus project, shared: generating writes nothing."""
    return Project.at(make_corpus_project(tmp_path_factory.mktemp("corpus") / "project"))


@pytest.mark.parametrize("stem", CONVERTIBLE)
def test_conversion_matches_the_golden_files(corpus: Project, stem: str):
    """Every generated file is byte for byte the reviewed one, and no golden file is missing."""
    files = generate(corpus, f"notebooks/{stem}.ipynb", stem).files
    golden = GOLDEN / stem
    if os.environ.get("REGENERATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        for relative, text in files.items():
            (golden / relative).parent.mkdir(parents=True, exist_ok=True)
            (golden / relative).write_text(text, encoding="utf-8")
    expected = {
        path.relative_to(golden).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(golden.rglob("*"))
        if path.is_file()
    }
    assert sorted(files) == sorted(expected)
    for relative, text in files.items():
        assert text == expected[relative], f"{stem}: {relative} differs from its golden file"


def test_conversion_is_deterministic(corpus: Project):
    """Converting the same notebook twice gives byte-identical files."""
    first = generate(corpus, "notebooks/aliasing.ipynb", "aliasing").files
    second = generate(corpus, "notebooks/aliasing.ipynb", "aliasing").files
    assert first == second


def test_golden_files_pass_ruff():
    """The generated Python is ruff-clean under the project's settings (lint and format)."""
    checked = subprocess.run(
        [str(RUFF), "check", str(GOLDEN)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout
    formatted = subprocess.run(
        [str(RUFF), "format", "--check", str(GOLDEN)], capture_output=True, text=True, check=False
    )
    assert formatted.returncode == 0, formatted.stdout
