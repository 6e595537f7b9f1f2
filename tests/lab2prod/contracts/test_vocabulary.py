"""The contract vocabulary: one dtype -> kind mapping, one list of per-field checks, shared by the
request model and the serving batch so that no check is enforced twice or skipped."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from lab2prod.contracts.request import request_model
from lab2prod.contracts.vocabulary import (
    FIELD_CHECKS,
    ColumnKind,
    column_kind,
    field_constraints,
    frame_schema,
    request_kind,
)
from lab2prod.errors import ContractError
from lab2prod.serving.frames import ContractBatch


@pytest.mark.parametrize(
    ("dtype", "kind"),
    [
        (np.int64, ColumnKind.INT),
        ("Int64", ColumnKind.INT),
        (np.uint8, ColumnKind.INT),
        (np.float32, ColumnKind.FLOAT),
        ("Float64", ColumnKind.FLOAT),
        (bool, ColumnKind.BOOL),
        ("boolean", ColumnKind.BOOL),
        (str, ColumnKind.STR),
        ("string[python]", ColumnKind.STR),
        (object, ColumnKind.STR),
        ("category", ColumnKind.CATEGORY),
        ("datetime64[us]", ColumnKind.DATETIME),
        (pd.DatetimeTZDtype("us", "UTC"), ColumnKind.DATETIME),
        (pa.Date, ColumnKind.DATE),
        ("timedelta64[ns]", ColumnKind.OTHER),
        (pa.Decimal, ColumnKind.OTHER),
    ],
)
def test_each_dtype_has_one_kind(dtype, kind):
    """pandera, pandas and numpy spellings of a dtype map to the same kind."""
    assert column_kind(pa.Column(dtype).dtype) == kind


@pytest.mark.parametrize(
    ("kind", "python_type"),
    [
        (ColumnKind.BOOL, bool),
        (ColumnKind.INT, int),
        (ColumnKind.FLOAT, float),
        (ColumnKind.STR, str),
        (ColumnKind.CATEGORY, str),
        (ColumnKind.DATETIME, dt.datetime),
        (ColumnKind.DATE, None),
        (ColumnKind.OTHER, None),
    ],
)
def test_a_kind_is_carried_by_one_python_type_or_none(kind, python_type):
    """A JSON request carries a kind as one Python type; a date or a duration it cannot."""
    assert kind.python_type is python_type
    if python_type is not None and kind is not ColumnKind.CATEGORY:
        assert ColumnKind.of_python_type(python_type) is kind


def test_a_column_no_request_can_carry_is_refused_by_model_and_batch_alike():
    """The request model and the serving batch refuse the same column with the same message
    (the batch used to take it as a string)."""
    schema = pa.DataFrameSchema({"wait": pa.Column("timedelta64[ns]")}, name="Waits")
    with pytest.raises(ContractError, match="'wait' of Waits has dtype timedelta64") as model:
        request_model(schema)
    with pytest.raises(ContractError, match="'wait' of Waits has dtype timedelta64") as batch:
        ContractBatch(schema)
    assert str(model.value) == str(batch.value)
    assert request_kind("Waits", "n", pa.Column(int).dtype) is ColumnKind.INT


class Everything(pa.DataFrameModel):
    gt: float = pa.Field(gt=0)
    ge: float = pa.Field(ge=0)
    lt: float = pa.Field(lt=1)
    le: float = pa.Field(le=1)
    within: int = pa.Field(in_range={"min_value": 1, "max_value": 3})
    colour: str = pa.Field(isin=["red", "blue"])
    code: str = pa.Field(str_length={"min_value": 2, "max_value": 3})
    even: int = pa.Field(unique=True)

    @pa.check("even")
    def is_even(cls, series: pd.Series) -> pd.Series:
        return series % 2 == 0


def test_every_field_check_is_a_request_constraint_and_no_batch_check():
    """Each check of FIELD_CHECKS becomes a constraint of its request field and is left out of
    the batch's checks; a check no field can express runs on the batch only."""
    schema = frame_schema(Everything)
    names = {check.name for column in schema.columns.values() for check in column.checks}
    assert set(FIELD_CHECKS) <= names  # the contract above uses every one

    model = request_model(Everything)
    json_schema = model.model_json_schema()["properties"]
    assert json_schema["gt"]["exclusiveMinimum"] == 0
    assert json_schema["ge"]["minimum"] == 0
    assert json_schema["lt"]["exclusiveMaximum"] == 1
    assert json_schema["le"]["maximum"] == 1
    assert (json_schema["within"]["minimum"], json_schema["within"]["maximum"]) == (1, 3)
    assert json_schema["colour"]["enum"] == ["red", "blue"]
    assert (json_schema["code"]["minLength"], json_schema["code"]["maxLength"]) == (2, 3)

    batch = ContractBatch(Everything)
    frame = pd.DataFrame(
        {
            "gt": [-1.0],
            "ge": [-1.0],
            "lt": [2.0],
            "le": [2.0],
            "within": [9],
            "colour": ["green"],
            "code": ["toolong"],
            "even": [3],
        }
    )
    assert [(error.loc, error.msg) for error in batch.check(frame)] == [
        (("even",), "Breaks the contract check 'is_even'")
    ]


@pytest.mark.parametrize(
    ("check", "constraints"),
    [
        (pa.Check.gt(1), {"gt": 1}),
        (pa.Check.le(5), {"le": 5}),
        (pa.Check.in_range(1, 5, include_min=False), {"gt": 1, "le": 5}),
        (pa.Check.isin(["a", "b"]), {"allowed": ("a", "b")}),
        (pa.Check.str_length(exact_value=4), {"min_length": 4, "max_length": 4}),
        (pa.Check.str_length(max_value=9), {"max_length": 9}),
        (pa.Check(lambda s: s > 0, name="positive"), None),
    ],
)
def test_field_constraints_of_each_check(check, constraints):
    """A field check becomes its pydantic constraints; any other check, none."""
    assert field_constraints(check) == constraints
