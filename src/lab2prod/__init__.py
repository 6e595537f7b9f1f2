"""lab2prod: from a JupyterLab notebook to a model in production, as a Kedro plugin.

The package is imported by ``kedro`` on every command (through its ``kedro.project_commands``
entry point), so nothing heavy is imported here: papermill, nbconvert, pandera and BentoML are
imported inside the functions that use them. ``record`` and ``notebook_node`` are imported on
first use (module ``__getattr__``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lab2prod.errors import Lab2ProdError

if TYPE_CHECKING:
    from lab2prod.execute.node import notebook_node
    from lab2prod.execute.record import record

__version__ = "0.1.0"

__all__ = ["Lab2ProdError", "__version__", "notebook_node", "record"]

_LAZY = {
    "notebook_node": "lab2prod.execute.node",
    "record": "lab2prod.execute.record",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lab2prod' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
