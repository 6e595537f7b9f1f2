"""The serving request of the example follows the training contract, with no second copy."""

from __future__ import annotations

import math

import pandera.pandas as pa
import pytest
from pandera.typing import Series
from pydantic import ValidationError

from fraud_detection import schemas
from fraud_detection.request import EXAMPLE_TRANSACTION, TransactionRequest
from lab2prod.contracts.request import request_model


def test_request_fields_are_the_scoring_contract_columns():
    """A request carries exactly the columns of a transaction plus its activity, no label."""
    columns = list(schemas.ScoringRequest.to_schema().columns)
    assert list(TransactionRequest.model_fields) == columns
    assert "is_fraud" not in TransactionRequest.model_fields


def test_example_request_is_valid():
    """The documented example passes, and is the OpenAPI example."""
    TransactionRequest.model_validate(EXAMPLE_TRANSACTION)
    assert TransactionRequest.model_json_schema()["examples"] == [EXAMPLE_TRANSACTION]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount": -3.0}, "amount", "greater than 0"),
        ({"amount": math.nan}, "amount", "finite number"),
        ({"amount": math.inf}, "amount", "finite number"),
        ({"amount": "12.50"}, "amount", "valid number"),
        ({"merchant_category": "casino"}, "merchant_category", "'grocery'"),
        ({"customer_age": 15}, "customer_age", "greater than or equal to 18"),
        ({"hours_since_prev_tx": 1000.0}, "hours_since_prev_tx", "less than or equal to 720"),
        ({"card_present": "yes"}, "card_present", "valid boolean"),
        ({"timestamp": "last tuesday"}, "timestamp", "datetime"),
        ({"promo_code": "X"}, "promo_code", "Extra inputs are not permitted"),
    ],
)
def test_bad_records_are_refused_naming_the_field(change: dict, field: str, message: str):
    """Each bad value is refused with the field's name and what is wrong with it."""
    with pytest.raises(ValidationError) as caught:
        TransactionRequest.model_validate({**EXAMPLE_TRANSACTION, **change})
    errors = caught.value.errors()
    assert [error["loc"] for error in errors] == [(field,)]
    assert message in errors[0]["msg"]


def test_missing_field_is_refused():
    """A record without one of the contract's columns is refused, naming it."""
    record = {k: v for k, v in EXAMPLE_TRANSACTION.items() if k != "device"}
    with pytest.raises(ValidationError, match="device"):
        TransactionRequest.model_validate(record)


def test_changing_the_training_contract_changes_the_request():
    """Tighten a range or add a column in the training contract: the request follows."""

    class Tighter(schemas.ScoringRequest):
        amount: Series[float] = pa.Field(gt=0.0, le=500.0)
        loyalty_tier: Series[str] = pa.Field(isin=["bronze", "gold"])

    derived = request_model(Tighter).model_json_schema()["properties"]
    original = TransactionRequest.model_json_schema()["properties"]
    assert original["amount"]["maximum"] == 1_000_000.0
    assert derived["amount"]["maximum"] == 500.0
    assert "loyalty_tier" not in original
    assert derived["loyalty_tier"]["enum"] == ["bronze", "gold"]
