"""A node that uses OpenMP, for the DaskRunner tests: its module loads scikit-learn's OpenMP on
import, as a model's nodes module does (the worker imports it when it unpickles the node)."""

from __future__ import annotations

from typing import Any

import sklearn.ensemble  # noqa: F401  (loads OpenMP)

from lab2prod.threadpools import pool_sizes


def openmp_threads(*_: Any) -> int:
    """The size of the OpenMP pools the node's thread sees."""
    return pool_sizes()["openmp"]
