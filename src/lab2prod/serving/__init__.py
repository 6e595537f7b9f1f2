"""Serving a Kedro inference pipeline and its model as one BentoML service.

- :class:`BentoModelDataset` (catalog type ``lab2prod.serving.BentoModelDataset``) saves a
  trained model, its fitted artifacts and provenance to the BentoML model store.
- :func:`compile_pipeline` turns the inference pipeline into a plain call sequence, once.
- :mod:`lab2prod.serving.api` holds what a service needs around it: the request and response
  models (``routes``), batch scoring (``scorer``), the OpenAPI spec (``openapi``), a worker's
  start-up (``runtime``); metrics and the token check are ``metrics`` and ``middleware``.

Names are imported on first use, so ``kedro`` pays nothing for this package at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab2prod.errors import (
        ModelMismatchError,
        PackageError,
        PipelineCompileError,
        ServingError,
    )
    from lab2prod.serving.compiled import CompiledPipeline, compile_pipeline
    from lab2prod.serving.dataset import BentoModelDataset
    from lab2prod.serving.package import ModelPackage, read_package, write_package

__all__ = [
    "BentoModelDataset",
    "CompiledPipeline",
    "ModelMismatchError",
    "ModelPackage",
    "PackageError",
    "PipelineCompileError",
    "ServingError",
    "compile_pipeline",
    "read_package",
    "write_package",
]

_LAZY = {
    "BentoModelDataset": "lab2prod.serving.dataset",
    "CompiledPipeline": "lab2prod.serving.compiled",
    "compile_pipeline": "lab2prod.serving.compiled",
    "ModelPackage": "lab2prod.serving.package",
    "read_package": "lab2prod.serving.package",
    "write_package": "lab2prod.serving.package",
    "ServingError": "lab2prod.errors",
    "PackageError": "lab2prod.errors",
    "PipelineCompileError": "lab2prod.errors",
    "ModelMismatchError": "lab2prod.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lab2prod.serving' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
