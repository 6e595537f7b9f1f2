"""Data contracts of the fraud example: pandera models, named on catalog entries by ``validator:``.

Kedro validates each dataset against its model when it is loaded or saved and stops the run on a
failure (``kedro.validation.DataValidationError``). The models build on each other the way the
tables do, so a column is described once: the cleaned table is the raw one in time order,
``scoring_input`` is a clean transaction plus its activity, and the serving request is derived
from ``ScoringInput`` in code (``fraud_detection.request``), never written a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from fraud_detection.domain import (
    CHANNELS,
    COUNTRIES,
    COUNTRY_CURRENCY,
    CURRENCIES,
    DEVICES,
    MERCHANT_CATEGORIES,
)
from fraud_detection.pipelines.inference_features.nodes import FEATURE_COLUMNS

# Half the Earth's circumference: no place is farther from home.
_MAX_DISTANCE_KM = 20_100.0
_MAX_AMOUNT_EUR = 1_000_000.0
_MAX_HOURS_SINCE_PREV = 720.0


class Contract(pa.DataFrameModel):
    """A pandera model that checks a table where it is, without copying it first.

    pandera copies the table it validates unless told ``inplace=True``, so that coercion and
    parsers cannot change the caller's frame; Kedro's ``validator:`` calls ``validate(data)``.
    A contract that changes no data (no coercion, parsers, defaults or dropped rows: every
    contract here) has nothing to protect the frame from, and the copy only doubled the table
    in memory while it was checked: ``model_input`` at 2,000,000 rows is 690 MiB, and loading it
    validated peaked ~650 MiB higher. A subclass that does change data is still validated on a
    copy.

    A table saved as an iterator of batches (``lab2prod.batched.BatchedParquetDataset``) is
    checked batch by batch as it is written, and its ``unique`` columns across the batches too.
    """

    @classmethod
    def validate(
        cls,
        check_obj: Any,
        head: int | None = None,
        tail: int | None = None,
        sample: int | None = None,
        random_state: int | None = None,
        lazy: bool = False,
        inplace: bool | None = None,
    ) -> Any:
        """pandera's ``validate``; ``inplace`` defaults to whether the contract changes no data.

        An iterator of DataFrames (the batches of one table) gives an iterator that validates
        each batch as it is drawn, and after the last, the ``unique`` columns over them all.
        """
        if isinstance(check_obj, Iterator):
            return _validated_batches(cls, check_obj, lazy=lazy)
        if inplace is None:
            inplace = not _changes_data(cls.to_schema())
        return super().validate(check_obj, head, tail, sample, random_state, lazy, inplace)


def _validated_batches(
    contract: type[Contract], batches: Iterator[pd.DataFrame], *, lazy: bool
) -> Iterator[pd.DataFrame]:
    """Each batch validated as Kedro validates a table (the same error and report), then the
    uniqueness of the ``unique`` columns across batches, by 64-bit hashes of their values."""
    from kedro.validation import DataValidationError, PanderaValidator

    validator = PanderaValidator(contract, lazy=lazy)
    unique = [name for name, column in contract.to_schema().columns.items() if column.unique]
    hashes: dict[str, list[np.ndarray]] = {name: [] for name in unique}
    for batch in batches:
        validator.validate(batch)
        for name in unique:
            hashes[name].append(pd.util.hash_array(batch[name].to_numpy()))
        yield batch
    for name, parts in hashes.items():
        values = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        repeated = len(values) - len(np.unique(values))
        if repeated:
            raise DataValidationError(
                f"Pandera validation failed against {contract.__module__}.{contract.__name__}: "
                f"column '{name}' must be unique, and {repeated:,} of its values repeat one in "
                "another batch of the table.",
                validator=f"{contract.__module__}.{contract.__name__}",
            )


def _changes_data(schema: pa.DataFrameSchema) -> bool:
    """Whether validating against ``schema`` may change the data, not only check it."""
    parts = [*schema.columns.values(), *([schema.index] if schema.index is not None else [])]
    return bool(
        schema.coerce
        or schema.parsers
        or schema.add_missing_columns
        or schema.drop_invalid_rows
        or schema.strict == "filter"
        or any(
            part.coerce
            or getattr(part, "parsers", None)
            or getattr(part, "default", None) is not None
            or getattr(part, "drop_invalid_rows", False)
            for part in parts
        )
    )


class Transaction(Contract):
    """One card transaction: the columns a serving request carries too."""

    transaction_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1})
    timestamp: Series[pa.DateTime]
    customer_id: Series[np.int64] = pa.Field(ge=0)
    customer_age: Series[np.int64] = pa.Field(ge=18, le=120)
    account_age_days: Series[np.int64] = pa.Field(ge=0)
    amount: Series[np.float64] = pa.Field(gt=0.0, le=_MAX_AMOUNT_EUR)
    currency: Series[str] = pa.Field(isin=CURRENCIES)
    merchant_id: Series[np.int64] = pa.Field(ge=0)
    merchant_category: Series[str] = pa.Field(isin=MERCHANT_CATEGORIES)
    channel: Series[str] = pa.Field(isin=CHANNELS)
    card_present: Series[bool]
    distance_from_home_km: Series[np.float64] = pa.Field(ge=0.0, le=_MAX_DISTANCE_KM)
    device: Series[str] = pa.Field(isin=DEVICES)
    country: Series[str] = pa.Field(isin=COUNTRIES)

    class Config:
        strict = True  # a column the contract does not name is an error
        coerce = False  # a wrong dtype is an error, not silently converted

    @pa.check("timestamp")
    def not_in_the_future(cls, timestamp: Series[pd.Timestamp]) -> Series[bool]:
        return timestamp <= pd.Timestamp.now()

    @pa.dataframe_check
    def card_present_if_and_only_if_in_store(cls, df: DataFrame) -> Series[bool]:
        return (df["channel"] == "in_store") == df["card_present"]

    @pa.dataframe_check
    def pos_terminal_if_and_only_if_in_store(cls, df: DataFrame) -> Series[bool]:
        return (df["channel"] == "in_store") == (df["device"] == "pos_terminal")

    @pa.dataframe_check
    def currency_of_the_country(cls, df: DataFrame) -> Series[bool]:
        return df["country"].map(COUNTRY_CURRENCY) == df["currency"]


class RawTransactions(Transaction):
    """``raw_transactions``: labelled transactions as they arrive, in any order."""

    is_fraud: Series[np.int8] = pa.Field(isin=[0, 1])


class CleanTransactions(RawTransactions):
    """``transactions_clean``: the raw table, cleaned and in time order."""

    @pa.dataframe_check(element_wise=False)
    def sorted_by_timestamp(cls, df: DataFrame) -> bool:
        return bool(df["timestamp"].is_monotonic_increasing)


class Activity(Contract):
    """A customer's activity before a transaction (strictly earlier transactions only)."""

    tx_count_1h: Series[np.int64] = pa.Field(ge=0)
    tx_count_24h: Series[np.int64] = pa.Field(ge=0)
    tx_count_7d: Series[np.int64] = pa.Field(ge=0)
    amount_sum_1h: Series[np.float64] = pa.Field(ge=0.0)
    amount_sum_24h: Series[np.float64] = pa.Field(ge=0.0)
    amount_sum_7d: Series[np.float64] = pa.Field(ge=0.0)
    prior_tx_count: Series[np.int64] = pa.Field(ge=0)
    prior_mean_amount: Series[np.float64] = pa.Field(ge=0.0, le=_MAX_AMOUNT_EUR)
    hours_since_prev_tx: Series[np.float64] = pa.Field(ge=0.0, le=_MAX_HOURS_SINCE_PREV)

    class Config:
        strict = True  # a column the contract does not name is an error
        coerce = False  # a wrong dtype is an error, not silently converted

    @pa.dataframe_check
    def windows_nest_1h_24h_7d_all(cls, df: DataFrame) -> Series[bool]:
        return (
            (df["tx_count_1h"] <= df["tx_count_24h"])
            & (df["tx_count_24h"] <= df["tx_count_7d"])
            & (df["tx_count_7d"] <= df["prior_tx_count"])
        )


class ActivityAggregates(Activity):
    """``activity_aggregates``: the activity of each transaction, keyed by its id."""

    transaction_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1})


class ScoringRequest(Activity, Transaction):
    """A transaction with its activity: one row of a serving request."""


class ScoringInput(ScoringRequest):
    """``scoring_input``: clean, labelled transactions with their activity."""

    is_fraud: Series[np.int8] = pa.Field(isin=[0, 1])


class ModelInput(Contract):
    """``model_input``: the stateless features of each transaction, all finite floats."""

    transaction_id: Series[str] = pa.Field(unique=True)
    timestamp: Series[pa.DateTime]
    is_fraud: Series[np.int8] = pa.Field(isin=[0, 1])
    feature: Series[np.float64] = pa.Field(
        alias="|".join(f"^{name}$" for name in FEATURE_COLUMNS), regex=True, ge=-1e12, le=1e12
    )

    class Config:
        strict = True  # a column the contract does not name is an error
        coerce = False  # a wrong dtype is an error, not silently converted

    @pa.dataframe_check(element_wise=False)
    def has_every_feature_in_order(cls, df: DataFrame) -> bool:
        return list(df.columns[3:]) == list(FEATURE_COLUMNS)


class Predictions(Contract):
    """``test_predictions``: scores and decisions on the test period."""

    transaction_id: Series[str] = pa.Field(unique=True)
    timestamp: Series[pa.DateTime]
    is_fraud: Series[np.int8] = pa.Field(isin=[0, 1])
    fraud_probability: Series[np.float64] = pa.Field(ge=0.0, le=1.0)
    baseline_probability: Series[np.float64] = pa.Field(ge=0.0, le=1.0)
    predicted: Series[np.int8] = pa.Field(isin=[0, 1])

    class Config:
        strict = True  # a column the contract does not name is an error
        coerce = False  # a wrong dtype is an error, not silently converted
