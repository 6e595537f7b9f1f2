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

REQUIRED_PROVENANCE: dict[str, str] = {
    "git": "the git state it was trained from (a null commit: trained outside a repository)",
    "kedro_run_id": "the Kedro run that packaged it",
    "training_data.sha256": "the fingerprint of its training data",
    "packages": "the versions of the packages that trained it",
}
"""The fields a model's provenance record must hold (dotted: nested) for ``bentoml build`` to
pack it (``lab2prod.serving.supply.ProvenancedModel``), and what each tells."""


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


def missing_provenance(record: Any) -> list[str]:
    """The fields of :data:`REQUIRED_PROVENANCE` that ``record`` lacks or leaves empty.

    ``git`` must be there, with a ``commit`` key; its value may be ``None`` (a model packaged
    outside a git repository says so). Every other field must hold a value.

    Args:
        record: A model's ``provenance`` metadata (``None`` when it has none).
    """
    if not isinstance(record, dict):
        return list(REQUIRED_PROVENANCE)
    missing = []
    for name in REQUIRED_PROVENANCE:
        value: Any = record
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        present = isinstance(value, dict) and "commit" in value if name == "git" else bool(value)
        if not present:
            missing.append(name)
    return missing
