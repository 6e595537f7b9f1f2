"""Kedro hooks of the corpus's scratch projects: every node input and output of ``kedro run``.

Registered in each scratch project's ``settings.py``. With ``LAB2PROD_CORPUS_CAPTURE`` set to a
folder, each value a node is given (as the catalog loaded it) and each value it returns is
pickled there, ``in/<node>/<dataset>.pkl`` and ``out/<dataset>.pkl``, for ``run.py`` to
compare with the notebook's. A value that cannot be pickled is named in ``unpicklable.txt``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

CAPTURE_ENV = "LAB2PROD_CORPUS_CAPTURE"


class CaptureHooks:
    """Pickles node inputs and outputs into the folder ``LAB2PROD_CORPUS_CAPTURE`` names."""

    @hook_impl
    def before_node_run(self, node: Any, inputs: dict[str, Any]) -> None:
        """Keep what the node is given."""
        for name, value in inputs.items():
            if not name.startswith("params:") and name != "parameters":
                _save(Path("in") / node.name, name, value)

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        """Keep what the node returned."""
        for name, value in outputs.items():
            _save(Path("out"), name, value)


def _save(where: Path, name: str, value: Any) -> None:
    folder = os.environ.get(CAPTURE_ENV)
    if not folder:
        return
    path = Path(folder) / where / f"{name}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = pickle.dumps(value)
    except Exception as exc:  # any failure to pickle only means "not compared"
        with (Path(folder) / "unpicklable.txt").open("a", encoding="utf-8") as out:
            out.write(f"{where / name}: {type(exc).__name__}: {exc}\n")
        return
    path.write_bytes(data)
