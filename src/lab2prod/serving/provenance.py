"""Where a packaged model came from: git commit, training data fingerprint, package versions."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_PACKAGES: tuple[str, ...] = (
    "lab2prod",
    "kedro",
    "bentoml",
    "scikit-learn",
    "pandas",
    "numpy",
    "pandera",
    "pydantic",
)
"""Packages whose versions a model package records unless told otherwise."""


def git_state(directory: Path) -> dict[str, Any]:
    """The commit checked out in ``directory`` and whether the work tree differs from it.

    Args:
        directory: Any folder inside the repository (the Kedro project, usually).

    Returns:
        ``{"commit": sha, "dirty": bool}``, or both ``None`` when ``directory`` is not in a git
        repository or git is not installed: a model packaged outside git says so, it does not
        fail.
    """
    try:
        commit = _git(directory, "rev-parse", "HEAD")
        # Untracked files count: an uncommitted new module changes what was trained.
        status = _git(directory, "status", "--porcelain")
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status)}


def _git(directory: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=directory, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout.strip()


def fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    """A fingerprint of a table's content: equal tables give equal fingerprints.

    The hash covers every value (``pandas.util.hash_pandas_object``, row by row, index left
    out), the column names and the dtypes, so reordering rows or renaming a column changes it.

    Args:
        frame: The training data.

    Returns:
        ``{"sha256": hex digest, "rows": n, "columns": n}``.
    """
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return {"sha256": digest.hexdigest(), "rows": len(frame), "columns": frame.shape[1]}


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """The installed version of each package (``None`` if absent), and Python's as ``python``."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions
