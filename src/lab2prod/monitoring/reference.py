"""The reference profile: what a model's inputs and scores looked like when it was trained.

A training run profiles each monitored column on a reference period and ships the profile inside
the model package, so whatever checks the model later compares against exactly what it learned
from:

- a numeric column gets quantile bin edges (bins closed on the right, ``(e[i-1], e[i]]``, plus
  a bin for missing values), its count and sum per bin, and its standard deviation;
- a categorical column gets its categories (the most frequent ``max_categories``), an
  ``other`` bin for the rest and for values never seen, and a missing-value bin;
- every count is kept per *chunk* of the reference (consecutive slices in time order). How much
  a statistic moves from chunk to chunk is how much it moves when nothing is wrong; ``drift.py``
  calibrates each column's threshold on it.

The profile is plain JSON (:meth:`ReferenceProfile.to_dict`): a Kedro ``json.JSONDataset`` keeps
it, versioned with the model, and the model package carries it as a document.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lab2prod.errors import MonitoringError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

FORMAT_VERSION = 1
OTHER = "(other)"
"""Label of the categorical bin of categories outside the profile."""
MISSING = "(missing)"
"""Label of every column's bin of missing values."""

Kind = Literal["numeric", "categorical"]
Role = Literal["input", "score", "decision", "label"]


@dataclass(frozen=True)
class ColumnProfile:
    """One column of the reference: its bins and the counts per chunk.

    Attributes:
        name: The column's name in the data.
        kind: ``numeric`` (quantile bins) or ``categorical`` (categories).
        role: ``input`` (a model input), ``score`` (the model's score), ``decision``, or
            ``label`` (the labels of the training period, kept apart: the baseline of label
            drift).
        edges: Numeric: the increasing bin bounds; ``len(edges) + 1`` value bins.
        categories: Categorical: the categories kept, each a bin, then ``other``.
        chunk_counts: ``(chunks, bins)`` counts; the last bin holds missing values.
        sums: Numeric: the sum of the reference's values in each bin (where its mass sits).
        std: Numeric: the reference's standard deviation (it normalises the Wasserstein
            distance); 0 for categorical columns.
    """

    name: str
    kind: Kind
    role: Role
    chunk_counts: np.ndarray
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    sums: np.ndarray | None = None
    std: float = 0.0
    _lookup: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind == "categorical":
            self._lookup.update({name: i for i, name in enumerate(self.categories)})

    @property
    def n_bins(self) -> int:
        """Bins, the missing-value bin included."""
        return self.chunk_counts.shape[1]

    @property
    def counts(self) -> np.ndarray:
        """The whole reference's count per bin."""
        return self.chunk_counts.sum(axis=0)

    @property
    def labels(self) -> list[str]:
        """A readable name per bin: ``(-inf, 3.5]``, ``grocery``, ``(other)``, ``(missing)``."""
        if self.kind == "categorical":
            return [*self.categories, OTHER, MISSING]
        bounds = [-math.inf, *self.edges, math.inf]
        return [f"({_g(a)}, {_g(b)}]" for a, b in itertools.pairwise(bounds)] + [MISSING]

    @property
    def support(self) -> np.ndarray:
        """Numeric: where each value bin's mass sits, the reference's mean of the bin (the
        middle of its bounds where the reference has no value in it)."""
        counts = self.counts[:-1].astype(np.float64)
        sums = self.sums[:-1] if self.sums is not None else counts * 0
        # The open end bins take their finite bound.
        bounds = np.array([self.edges[0], *self.edges, self.edges[-1]]) if self.edges else None
        middle = np.zeros_like(counts) if bounds is None else (bounds[:-1] + bounds[1:]) / 2
        means = np.divide(sums, counts, out=middle.astype(np.float64), where=counts > 0)
        # Means of neighbouring bins are increasing by construction; keep them so if a bin is
        # empty in the reference and took its middle.
        return np.maximum.accumulate(means)

    def bin(
        self, values: Any, *, groups: np.ndarray | None = None, n_groups: int = 1
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Count ``values`` (an array-like, a pandas or polars Series) into this column's bins.

        Args:
            values: The column's values.
            groups: Optionally, a group (0 .. ``n_groups - 1``) per value, to count each group
                apart in one pass (the days of a window).
            n_groups: How many groups.

        Returns:
            The count per bin, and for numeric columns the sum per bin (else ``None``); with
            ``groups``, each is ``(n_groups, bins)``.

        Raises:
            MonitoringError: If a numeric column's values are not numbers.
        """
        if self.kind == "numeric":
            array = _numeric(values, self.name)
            missing = np.isnan(array)
            index = np.searchsorted(np.asarray(self.edges), array, side="left")
            index[missing] = self.n_bins - 1
            weights = np.where(missing, 0.0, array)
        else:
            codes, distinct = _factorize(values)
            other = len(self.categories)
            positions = np.array(
                [self._lookup.get(value, other) for value in distinct] + [other + 1],
                dtype=np.int64,
            )
            index = positions[codes]  # code -1 (missing) picks the last entry: the missing bin
            weights = None
        size = self.n_bins
        if groups is not None:
            index = np.asarray(groups, dtype=np.int64) * self.n_bins + index
            size = n_groups * self.n_bins
        counts = np.bincount(index, minlength=size).astype(np.int64)
        sums = np.bincount(index, weights=weights, minlength=size) if weights is not None else None
        if groups is not None:
            counts = counts.reshape(n_groups, self.n_bins)
            sums = sums.reshape(n_groups, self.n_bins) if sums is not None else None
        return counts, sums

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "chunk_counts": self.chunk_counts.tolist(),
        }
        if self.kind == "numeric":
            data["edges"] = list(self.edges)
            data["sums"] = (
                [float(f"{value:.10g}") for value in self.sums] if self.sums is not None else None
            )
            data["std"] = self.std
        else:
            data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        sums = data.get("sums")
        return cls(
            name=data["name"],
            kind=data["kind"],
            role=data["role"],
            chunk_counts=np.asarray(data["chunk_counts"], dtype=np.int64),
            edges=tuple(float(e) for e in data.get("edges", ())),
            categories=tuple(data.get("categories", ())),
            sums=np.asarray(sums, dtype=np.float64) if sums is not None else None,
            std=float(data.get("std", 0.0)),
        )


def _g(value: float) -> str:
    return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:.6g}"


def _numeric(values: Any, name: str) -> np.ndarray:
    try:
        if hasattr(values, "to_numpy"):
            try:
                array = values.to_numpy(dtype=np.float64, na_value=np.nan)
            except TypeError:  # polars Series: no na_value
                array = values.cast(float).to_numpy()
        else:
            array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MonitoringError(
            f"Column {name!r} is profiled as numeric but holds values that are not numbers "
            f"({exc}); profile it as categorical or fix its type",
            column=name,
        ) from exc
    return np.asarray(array, dtype=np.float64)


def _factorize(values: Any) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 missing) and the distinct values as strings."""
    import pandas as pd

    if hasattr(values, "to_pandas") and not isinstance(values, pd.Series):
        values = values.to_pandas()
    codes, distinct = pd.factorize(pd.Series(values), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), [_category(value) for value in distinct]


def _category(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ReferenceProfile:
    """Every monitored column of a model's reference, and what the model scored at evaluation.

    Attributes:
        columns: The column profiles, inputs first.
        score: The name of the score column, if profiled.
        decision: The name of the decision column, if profiled.
        threshold: The decision threshold (``score >= threshold`` decides positive).
        periods: Per role, the reference period: ``{"start", "end", "rows", "chunks"}``.
        performance: The model's metrics on its labelled evaluation period, computed as the
            monitoring computes them on a window (``performance.py``): the baseline of decay.
        labels: The labels of the training period, per chunk (categories ``"0"``, ``"1"``):
            the baseline of the positive rate, and how much labels come in bursts.
    """

    columns: tuple[ColumnProfile, ...]
    score: str | None = None
    decision: str | None = None
    threshold: float | None = None
    periods: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    performance: Mapping[str, float] = field(default_factory=dict)
    labels: ColumnProfile | None = None

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise MonitoringError(f"The profile holds column(s) {repeated} twice")

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``.

        Raises:
            MonitoringError: If it is not profiled (with the closest names).
        """
        for column in self.columns:
            if column.name == name:
                return column
        hint = did_you_mean(name, [c.name for c in self.columns], n=2)
        hint = f"; {hint}" if hint else ""
        raise MonitoringError(f"Column {name!r} is not in the reference profile{hint}", column=name)

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def label_rate(self) -> tuple[int, int] | None:
        """``(positives, rows)`` of the training period's labels, if profiled."""
        if self.labels is None:
            return None
        counts = dict(zip(self.labels.labels, self.labels.counts.tolist(), strict=True))
        positives = counts.get("1", 0) + counts.get("true", 0)
        return int(positives), int(sum(counts.values()) - counts.get(MISSING, 0))

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON-ready data."""
        return {
            "lab2prod_profile": FORMAT_VERSION,
            "score": self.score,
            "decision": self.decision,
            "threshold": self.threshold,
            "periods": {role: dict(period) for role, period in self.periods.items()},
            # JSON has no NaN: an undefined metric (nothing flagged: no precision) is null.
            "performance": {
                name: value if value is None or math.isfinite(value) else None
                for name, value in self.performance.items()
            },
            "columns": [column.to_dict() for column in self.columns],
            "labels": self.labels.to_dict() if self.labels is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Read a profile written by :meth:`to_dict`.

        Raises:
            MonitoringError: If ``data`` is not a profile, or a newer format than this reads.
        """
        if isinstance(data, ReferenceProfile):
            return data
        if not isinstance(data, Mapping) or "lab2prod_profile" not in data:
            raise MonitoringError(
                "This is not a reference profile (no 'lab2prod_profile' key); make one with "
                "lab2prod.monitoring.build_profile"
            )
        if data["lab2prod_profile"] > FORMAT_VERSION:
            raise MonitoringError(
                f"The reference profile has format {data['lab2prod_profile']}, newer than this "
                f"lab2prod reads ({FORMAT_VERSION}); upgrade lab2prod"
            )
        return cls(
            columns=tuple(ColumnProfile.from_dict(c) for c in data["columns"]),
            score=data.get("score"),
            decision=data.get("decision"),
            threshold=data.get("threshold"),
            periods=data.get("periods", {}),
            performance={
                name: math.nan if value is None else value
                for name, value in data.get("performance", {}).items()
            },
            labels=ColumnProfile.from_dict(data["labels"]) if data.get("labels") else None,
        )


def chunk_index(
    rows: int, *, chunks: int = 10, times: Any = None, period: str | None = None
) -> np.ndarray:
    """The chunk of each of ``rows`` consecutive rows (in time order).

    With ``period`` (a pandas frequency, ``"1D"``, ``"7D"``) and ``times``, each chunk is one
    period (counted from the epoch: calendar days for ``"1D"``); a chunk takes the following
    periods until it holds ``MIN_CHUNK_ROWS`` rows, and a short last chunk joins the one before.
    Otherwise ``chunks`` slices of (almost) equal row counts.
    """
    if period is None or times is None:
        return (np.arange(rows, dtype=np.int64) * chunks) // max(rows, 1)
    import pandas as pd

    stamps = pd.to_datetime(pd.Series(times)).to_numpy()
    if len(stamps) and (np.diff(stamps).astype(np.int64) < 0).any():
        raise MonitoringError("The reference rows must be in time order to chunk them by period")
    # Periods from the epoch, as the window's periods are: whole calendar days for "1D".
    step = pd.Timedelta(period).value
    ticks = stamps.astype("datetime64[ns]").astype(np.int64) // step
    raw = ticks - ticks[0] if len(ticks) else np.zeros(0, np.int64)
    sizes = np.bincount(raw)
    merged = np.zeros(len(sizes), np.int64)
    current, rows_in_current = 0, 0
    for i, size in enumerate(sizes):
        if rows_in_current >= MIN_CHUNK_ROWS and size > 0:
            current, rows_in_current = current + 1, 0
        merged[i] = current
        rows_in_current += size
    if rows_in_current < MIN_CHUNK_ROWS and current > 0:  # a short last chunk joins the one before
        merged[merged == current] = current - 1
    return merged[raw]


MIN_CHUNK_ROWS = 50
"""The fewest rows a chunk of periods may hold: a sparser period joins its neighbour."""


def profile_columns(
    frame: pd.DataFrame,
    *,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    role: Role = "input",
    n_bins: int = 20,
    chunks: int = 10,
    time_column: str | None = None,
    chunk_period: str | None = None,
    max_categories: int = 50,
    extra_edges: Mapping[str, Iterable[float]] | None = None,
) -> list[ColumnProfile]:
    """Profile columns of ``frame``, whose rows are in time order.

    Args:
        frame: The reference rows, earliest first (chunks are consecutive rows).
        numeric: Columns binned at quantiles.
        categorical: Columns counted per category.
        role: The role of every column profiled here.
        n_bins: Quantile bins per numeric column (fewer where values repeat).
        chunks: Slices of equal row counts the counts are kept for (without ``chunk_period``).
        time_column: The column of the rows' times (needed with ``chunk_period``).
        chunk_period: Chunk by this pandas frequency (``"1D"``) instead: whole days do not
            mix the hours of a day, which differ, into the chunk-to-chunk variation.
        max_categories: The most frequent categories kept per categorical column.
        extra_edges: More bin edges per numeric column (a decision threshold, say).

    Raises:
        MonitoringError: If a column is missing, there are too few rows or chunks, or a
            parameter is out of range.
    """
    missing = [name for name in (*numeric, *categorical) if name not in frame.columns]
    if chunk_period is not None and (time_column is None or time_column not in frame.columns):
        raise MonitoringError(
            f"Chunking by period ({chunk_period!r}) needs the time column "
            f"{time_column!r}, which the reference data lacks"
        )
    if missing:
        raise MonitoringError(
            f"Cannot profile column(s) {missing}: the reference data has "
            f"{sorted(map(str, frame.columns))}"
        )
    if n_bins < 2 or chunks < 2 or max_categories < 1:
        raise MonitoringError(
            f"n_bins and chunks must be >= 2 and max_categories >= 1, got n_bins={n_bins}, "
            f"chunks={chunks}, max_categories={max_categories}"
        )
    times = frame[time_column] if chunk_period is not None else None
    index = chunk_index(len(frame), chunks=chunks, times=times, period=chunk_period)
    n_chunks = int(index.max()) + 1 if len(index) else 0
    if n_chunks < 2 or len(frame) < n_chunks * 10:
        raise MonitoringError(
            f"The reference has {len(frame):,} rows in {n_chunks} chunk(s): at least 2 chunks "
            "of 10 rows are needed to see how the data varies; use a longer reference period "
            "or shorter chunks"
        )
    chunks = n_chunks
    extra = {name: list(edges) for name, edges in (extra_edges or {}).items()}
    profiles = []
    for name in numeric:
        values = _numeric(frame[name], name)
        present = values[~np.isnan(values)]
        if present.size == 0:
            raise MonitoringError(f"Column {name!r} has no value in the reference", column=name)
        quantiles = np.quantile(present, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
        edges = np.unique(np.concatenate([quantiles, extra.get(name, [])]))
        column = ColumnProfile(
            name, "numeric", role, np.zeros((chunks, len(edges) + 2), np.int64), tuple(edges)
        )
        counts, sums = _per_chunk(column, values, index, chunks)
        profiles.append(
            ColumnProfile(
                name,
                "numeric",
                role,
                counts,
                edges=tuple(float(e) for e in edges),
                sums=sums.sum(axis=0),
                std=float(present.std()),
            )
        )
    for name in categorical:
        codes, distinct = _factorize(frame[name])
        frequency = np.bincount(codes[codes >= 0], minlength=len(distinct))
        order = np.argsort(-frequency, kind="stable")[:max_categories]
        kept = tuple(sorted(distinct[i] for i in order if frequency[i] > 0))
        column = ColumnProfile(
            name, "categorical", role, np.zeros((chunks, len(kept) + 2), np.int64), categories=kept
        )
        counts, _ = _per_chunk(column, frame[name], index, chunks)
        profiles.append(ColumnProfile(name, "categorical", role, counts, categories=kept))
    return profiles


def _per_chunk(
    column: ColumnProfile, values: Any, index: np.ndarray, chunks: int
) -> tuple[np.ndarray, np.ndarray | None]:
    counts = np.zeros((chunks, column.n_bins), np.int64)
    sums = np.zeros((chunks, column.n_bins)) if column.kind == "numeric" else None
    array = np.asarray(values) if column.kind == "numeric" else None
    series = values if column.kind != "numeric" else None
    bounds = np.searchsorted(index, np.arange(chunks + 1))
    for chunk in range(chunks):
        start, stop = bounds[chunk], bounds[chunk + 1]
        part = array[start:stop] if array is not None else series.iloc[start:stop]
        counts[chunk], chunk_sum = column.bin(part)
        if sums is not None:
            sums[chunk] = chunk_sum
    return counts, sums
