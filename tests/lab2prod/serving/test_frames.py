"""Validated request records become the batch training saw, and the contract's remaining checks
find the rows that break it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series
from pydantic import BaseModel, ValidationError

from fraud_detection.request import EXAMPLE_TRANSACTION, TransactionRequest
from fraud_detection.schemas import ScoringRequest
from lab2prod.serving.frames import ContractBatch
from tests.serving.server import request_records

BATCH = ContractBatch(ScoringRequest)


def records(*changes: dict) -> list[TransactionRequest]:
    return [
        TransactionRequest.model_validate(
            {**EXAMPLE_TRANSACTION, "transaction_id": f"tx{i:010d}", **change}
        )
        for i, change in enumerate(changes)
    ]


def test_the_batch_has_the_dtypes_of_the_training_data(scoring_input):
    """Records of scoring_input rows give back scoring_input (less the label), dtypes included."""
    expected = scoring_input.drop(columns="is_fraud")
    validated = [TransactionRequest.model_validate(r) for r in request_records(scoring_input)]

    frame, errors = BATCH.frame(validated)

    assert errors == []
    pd.testing.assert_frame_equal(frame, expected.reset_index(drop=True))
    assert ScoringRequest.validate(frame) is not None  # the contract itself agrees


def test_aware_timestamps_become_naive_utc():
    """+01:00 is converted to UTC and stored naive, as the training data is."""
    frame, _ = BATCH.frame(records({"timestamp": "2026-03-14T22:07:45+01:00"}))
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-03-14 21:07:45")
    assert str(frame["timestamp"].dtype) == "datetime64[us]"


def test_the_request_model_refuses_integers_beyond_int64():
    """Integers are bounded to int64 where the contract sets no tighter bound."""
    with pytest.raises(ValidationError, match="customer_id"):
        records({"customer_id": 2**63})


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        ({"customer_id": 2**63}, ("customer_id",), "64-bit integer"),
        (
            {"timestamp": dt.datetime(1, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))},
            ("timestamp",),
            "out of range in UTC",
        ),
    ],
)
def test_values_the_batch_cannot_hold_are_row_errors(change, loc, message):
    """A value beyond int64 or datetime range is reported on its row, not raised (a record of
    a request model without int64 bounds: made here by updating a valid one unchecked)."""
    valid = records({})[0]
    odd = valid.model_copy(update=change)
    frame, errors = BATCH.frame([valid, odd])
    assert len(frame) == 2
    assert [(e.row, e.loc, e.type) for e in errors] == [(1, loc, "value_out_of_range")]
    assert message in errors[0].msg


def test_contract_checks_report_each_failing_row_and_check():
    """Cross-field and custom column checks name the row and the check it breaks."""
    future = (dt.datetime.now() + dt.timedelta(days=3)).isoformat()
    frame, _ = BATCH.frame(
        records(
            {},
            {"channel": "in_store"},  # online device, no card: breaks two checks
            {"timestamp": future},
            {"country": "GB"},  # paid in EUR
            {"tx_count_1h": 50},  # more in the last hour than in the last day
        )
    )

    found = {(e.row, e.loc, e.msg.split("'")[1]) for e in BATCH.check(frame)}

    assert found == {
        (1, (), "card_present_if_and_only_if_in_store"),
        (1, (), "pos_terminal_if_and_only_if_in_store"),
        (2, ("timestamp",), "not_in_the_future"),
        (3, (), "currency_of_the_country"),
        (4, (), "windows_nest_1h_24h_7d_all"),
    }


class Coded(pa.DataFrameModel):
    """A contract with column checks no request field expresses: a regex, a custom check on a
    nullable column."""

    code: Series[str] = pa.Field(str_matches=r"^tx")
    score: Series[float] = pa.Field(nullable=True)

    @pa.check("score")
    def below_ten(cls, score: Series[float]) -> Series[bool]:
        return score < 10


class CodedRecord(BaseModel):
    code: str
    score: float | None


def test_builtin_and_nullable_column_checks_are_run_row_by_row():
    """Column checks the request model leaves out are run row by row, and a null passes a check
    that ignores nulls, as in pandera."""
    batch = ContractBatch(Coded)
    records = [
        CodedRecord(code="tx1", score=1.0),
        CodedRecord(code="ab", score=None),
        CodedRecord(code="tx2", score=12.0),
    ]
    frame, errors = batch.frame(records)

    found = {(e.row, e.loc, e.msg.split("'")[1]) for e in batch.check(frame)}

    assert errors == []
    assert found == {(1, ("code",), "str_matches"), (2, ("score",), "below_ten")}
