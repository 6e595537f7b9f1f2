"""Errors raised by ``lab2prod.serving``: packaging a model, compiling its pipeline, serving it.

The tree::

    Lab2ProdError                      (lab2prod.errors)
     └── ServingError                  a model cannot be packaged, loaded or served
          ├── PackageError             what a node handed BentoModelDataset is not a package, or a
          │                            stored model is not one lab2prod wrote
          ├── PipelineCompileError     an inference pipeline cannot be compiled for serving
          └── ModelMismatchError       a packaged model does not fit the code that serves it

They live here, not in ``lab2prod/errors.py``, only while that file is being edited elsewhere;
they belong in its tree and should move there (``from lab2prod.errors import ...`` then).
"""

from __future__ import annotations

from lab2prod.errors import Lab2ProdError


class ServingError(Lab2ProdError):
    """A model cannot be packaged, loaded or served."""


class PackageError(ServingError, ValueError):
    """The data given to ``BentoModelDataset.save`` is not a model package, or a stored model is
    not a lab2prod package.

    Attributes:
        key: The offending key of the package, or ``None`` when the package as a whole is wrong.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class PipelineCompileError(ServingError, ValueError):
    """A Kedro pipeline cannot be compiled into a call sequence for serving.

    Attributes:
        missing: Free inputs of the pipeline that nothing provides.
        unknown: Names given as inputs or outputs that the pipeline does not have.
    """

    def __init__(
        self, message: str, *, missing: list[str] | None = None, unknown: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.missing = missing or []
        self.unknown = unknown or []


class ModelMismatchError(ServingError):
    """A packaged model does not fit the code serving it: the request it was trained for differs
    from the service's, or its pipeline is not the one the project registers.

    Attributes:
        tag: The BentoML tag of the model.
    """

    def __init__(self, message: str, *, tag: str) -> None:
        super().__init__(message)
        self.tag = tag
