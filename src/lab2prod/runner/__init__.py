"""Kedro runners on real engines: ``DaskRunner`` (Dask distributed).

``kedro run --runner lab2prod.runner.DaskRunner``; see ``docs/operations/dask.md``. Dask is
imported when a run starts, not when Kedro loads lab2prod's hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab2prod.runner.dask import DaskRunner

__all__ = ["DaskRunner"]


def __getattr__(name: str) -> Any:
    if name == "DaskRunner":
        from lab2prod.runner.dask import DaskRunner

        return DaskRunner
    raise AttributeError(f"module 'lab2prod.runner' has no attribute {name!r}")
