"""The project's state when a run starts: code commit and uncommitted diff, lock, environment,
converted notebooks."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

LOCKFILES = ("uv.lock", "poetry.lock", "pdm.lock", "pixi.lock", "requirements.lock")
"""Lockfiles looked for at the project's root, first found wins."""


def git_state(directory: Path) -> dict[str, Any]:
    """The commit checked out and a hash of every uncommitted change.

    ``diff_sha256`` covers the bytes of ``git diff HEAD --binary`` (staged and unstaged changes
    to tracked files) and the path and content hash of each untracked file git does not
    ignore: two work trees with the same commit and the same ``diff_sha256`` hold the same
    code. ``None`` for all keys outside a git repository or without git.
    """
    try:
        top = Path(_git(directory, "rev-parse", "--show-toplevel").decode().strip())
        commit = _git(top, "rev-parse", "HEAD").decode().strip()
        # From the top: the whole work tree, whichever folder of it the project is.
        diff = _git(top, "diff", "HEAD", "--binary")
        untracked = [
            name
            for name in _git(top, "ls-files", "--others", "--exclude-standard", "-z")
            .decode()
            .split("\0")
            if name
        ]
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None, "diff_sha256": None, "untracked": None}
    digest = hashlib.sha256(diff)
    for name in sorted(untracked):
        digest.update(b"\0untracked\0" + name.encode() + b"\0")
        path = top / name
        if path.is_file():
            digest.update(_file_sha256(path).encode())
    dirty = bool(diff) or bool(untracked)
    return {
        "commit": commit,
        "dirty": dirty,
        "diff_sha256": digest.hexdigest() if dirty else None,
        "untracked": len(untracked),
    }


def _git(directory: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=directory, capture_output=True, check=True, timeout=60
    ).stdout


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def lock_state(project_path: Path) -> dict[str, Any] | None:
    """``{"file": "uv.lock", "sha256": ...}`` of the project's lockfile, or ``None``."""
    for name in LOCKFILES:
        path = project_path / name
        if path.is_file():
            return {"file": name, "sha256": _file_sha256(path)}
    return None


def environment_state() -> dict[str, Any]:
    """Python's version and a hash of every installed distribution and version.

    The lockfile says what should be installed; this says what was.
    """
    installed = sorted(
        {f"{dist.metadata['Name']}=={dist.version}".lower() for dist in distributions()}
    )
    return {
        "python": platform.python_version(),
        "distributions": len(installed),
        "sha256": hashlib.sha256("\n".join(installed).encode()).hexdigest(),
    }


def notebook_state(project_path: Path) -> dict[str, Any]:
    """Each converted pipeline's notebook, the hash recorded at conversion
    (``conf/base/notebooks.yml``) and whether the notebook still has that hash."""
    from lab2prod.convert.project import LEDGER
    from lab2prod.convert.sync import notebook_hash

    path = project_path / LEDGER
    if not path.is_file():
        return {}
    import yaml

    record = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    state = {}
    for pipeline, entry in sorted(record.items()):
        notebook = entry.get("notebook")
        recorded = entry.get("notebook_hash")
        current = None
        if notebook and (project_path / notebook).is_file():
            current = notebook_hash(project_path / notebook)
        state[pipeline] = {
            "notebook": notebook,
            "recorded_hash": recorded,
            "current_hash": current,
            "in_sync": current is not None and current == recorded,
        }
    return state
