"""Deriving a pydantic request model from any pandera contract."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import DataFrame, Series
from pydantic import ValidationError

from lab2prod.contracts.request import request_model
from lab2prod.errors import ContractError


class Order(pa.DataFrameModel):
    order_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 3, "max_value": 8})
    placed_at: Series[pa.DateTime]
    quantity: Series[int] = pa.Field(in_range={"min_value": 1, "max_value": 10})
    price: Series[float] = pa.Field(gt=0.0, lt=100.0)
    express: Series[bool]
    colour: Series[str] = pa.Field(isin=["red", "blue"], nullable=True)
    label: Series[int] = pa.Field(isin=[0, 1])

    @pa.dataframe_check
    def express_orders_are_small(cls, df: DataFrame) -> Series[bool]:
        return ~df["express"] | (df["quantity"] <= 2)


GOOD = {
    "order_id": "o-1",
    "placed_at": "2026-01-02T03:04:05",
    "quantity": 2,
    "price": 9.5,
    "express": True,
    "colour": None,
}


@pytest.fixture(scope="module")
def model():
    return request_model(Order, exclude=["label"])


def test_types_bounds_and_categories_carry_over(model):
    """Bounds, lengths, categories and nullability become the JSON schema of the request."""
    props = model.model_json_schema()["properties"]
    assert props["quantity"] | {"title": None} == {
        "minimum": 1,
        "maximum": 10,
        "type": "integer",
        "title": None,
    }
    assert props["price"]["exclusiveMinimum"] == 0.0 and props["price"]["exclusiveMaximum"] == 100
    assert props["order_id"]["minLength"] == 3 and props["order_id"]["maxLength"] == 8
    assert {"enum": ["red", "blue"], "type": "string"} in props["colour"]["anyOf"]
    assert "label" not in props
    record = model.model_validate(GOOD)
    assert record.placed_at == dt.datetime(2026, 1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 11}, "quantity"),
        ({"quantity": 2.5}, "quantity"),
        ({"price": 100.0}, "price"),
        ({"price": float("inf")}, "price"),
        ({"order_id": "o"}, "order_id"),
        ({"colour": "green"}, "colour"),
        ({"express": 1}, "express"),
        ({"label": 1}, "label"),
    ],
)
def test_each_broken_rule_is_refused(model, change: dict, field: str):
    """A value that breaks a per-value rule of the contract is refused, naming the field."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**GOOD, **change})
    assert caught.value.errors()[0]["loc"] == (field,)


def test_frame_level_checks_run_on_the_batch(model):
    """Cross-column checks, which no single field can express, run on the batch frame."""
    from lab2prod.serving.frames import ContractBatch

    rows = [model.model_validate({**GOOD, "quantity": 5}).model_dump()]
    frame = pd.DataFrame(rows).assign(label=0)
    frame["placed_at"] = frame["placed_at"].astype("datetime64[us]")
    (error,) = ContractBatch(Order).check(frame)
    assert "express_orders_are_small" in error.msg


@pytest.mark.parametrize(
    ("contract", "message"),
    [
        (
            pa.DataFrameSchema({"f_.*": pa.Column(float, regex=True)}),
            "matches columns by regex",
        ),
        (pa.DataFrameSchema({"blob": pa.Column(pa.Decimal)}), "cannot carry"),
        (42, "not a pandera DataFrameModel"),
    ],
)
def test_contracts_a_request_cannot_express(contract, message: str):
    """What cannot become a request field is a clear error naming it and the fix."""
    with pytest.raises(ContractError, match=message):
        request_model(contract)
