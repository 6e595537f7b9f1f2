"""``PromotedModelDataset``: a model package stored only when the retraining promotes it.

Kedro saves every output of a run; a retraining decides whether its challenger replaces the
model in service. This dataset takes ``{"promote": bool, "package": {...}}`` and hands the
package to a :class:`~lab2prod.serving.dataset.BentoModelDataset` (a new version, the new
``latest``) only when ``promote`` is true; otherwise it stores nothing and says so. Loading
gives the latest packaged model::

    retrained_model:
      type: lab2prod.monitoring.PromotedModelDataset
      model:                      # BentoModelDataset's arguments, as packaged_model's
        name: fraud_detection
        pipeline: inference
        request_model: fraud_detection.request.TransactionRequest
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.io import AbstractDataset, Version

from lab2prod.errors import MonitoringError


class PromotedModelDataset(AbstractDataset[Mapping[str, Any], Any]):
    """Stores a retrained model package when, and only when, it is promoted.

    Args:
        model: The arguments of the ``BentoModelDataset`` that stores the package.
        version: Set by Kedro (the run's save version becomes the package's Kedro run id).
        metadata: Kedro's free-form metadata.
    """

    versioned = True

    def __init__(
        self,
        *,
        model: Mapping[str, Any],
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        from lab2prod.serving.dataset import BentoModelDataset

        self._model = BentoModelDataset(**dict(model), version=version)
        self._version = version
        self.metadata = metadata
        self.promoted: str | None = None
        """The tag stored by the last save, ``None`` when it kept the model in service."""

    def save(self, data: Mapping[str, Any]) -> None:
        """Store ``data["package"]`` as a new model version if ``data["promote"]``.

        Raises:
            MonitoringError: If ``data`` does not say whether to promote, or holds no package.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("promote"), bool):
            raise MonitoringError(
                "PromotedModelDataset saves {'promote': True or False, 'package': {...}}, got "
                f"{type(data).__name__} {sorted(data) if isinstance(data, Mapping) else ''}"
            )
        decision = data["package"].get("metadata", {}).get("promotion", {})
        if not data["promote"]:
            self.promoted = None
            self._logger.info("Kept the model in service: %s", decision.get("reason", ""))
            return
        if "package" not in data:
            raise MonitoringError("Promoted, but there is no 'package' to store")
        self._model.save(data["package"])
        self.promoted = self._model.load_tag
        self._logger.info("Promoted: %s", decision.get("reason", ""))

    def load(self) -> Any:
        """The latest packaged model (the promoted one, or the one kept)."""
        return self._model.load()

    def _exists(self) -> bool:
        return self._model.exists()

    def _describe(self) -> dict[str, Any]:
        return {"model": self._model._describe(), "version": self._version}
