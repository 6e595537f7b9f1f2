"""Request frames through BentoML's adaptive batching.

A scoring route that receives each request as the batch's typed frame needs BentoML to merge
the frames of concurrent requests into one, and to know how many records each holds. BentoML
picks how by the input's type (its data containers); its own pandas container reports a
frame's shape where the dispatcher expects a row count, so frames travel wrapped in
:class:`FrameBatch`, with a container of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from bentoml._internal.runner.container import DataContainer, DataContainerRegistry

__all__ = ["FrameBatch", "register"]


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Records of one request, or of a merged batch of them, as one typed frame."""

    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)


class _FrameBatchContainer(DataContainer[FrameBatch, FrameBatch]):
    """How BentoML's dispatcher merges and counts :class:`FrameBatch` inputs (in-process
    only: a frame batch is never sent to another process)."""

    @classmethod
    def batches_to_batch(
        cls, batches: Sequence[FrameBatch], batch_dim: int = 0
    ) -> tuple[FrameBatch, list[int]]:
        indices = [0, *itertools.accumulate(len(batch) for batch in batches)]
        if len(batches) == 1:
            return batches[0], indices
        frames = [batch.frame for batch in batches]
        return FrameBatch(pd.concat(frames, ignore_index=True)), indices

    @classmethod
    def batch_to_batches(
        cls, batch: FrameBatch, indices: Sequence[int], batch_dim: int = 0
    ) -> list[FrameBatch]:
        return [
            FrameBatch(batch.frame.iloc[start:end].reset_index(drop=True))
            for start, end in itertools.pairwise(indices)
        ]

    @classmethod
    def get_batch_size(cls, batch: FrameBatch, batch_dim: int) -> int:
        return len(batch)

    @classmethod
    def to_payload(cls, batch: FrameBatch, batch_dim: int) -> Any:
        raise NotImplementedError("A FrameBatch stays in the process that built it")

    @classmethod
    def from_payload(cls, payload: Any) -> FrameBatch:
        raise NotImplementedError("A FrameBatch stays in the process that built it")


def register() -> None:
    """Tell BentoML's dispatcher how to merge :class:`FrameBatch` inputs (idempotent)."""
    DataContainerRegistry.register_container(FrameBatch, FrameBatch, _FrameBatchContainer)
