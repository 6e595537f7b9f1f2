"""The columnar fast path builds exactly the batch the request model would, and steps aside for
everything else: it never accepts a request the request model refuses."""

from __future__ import annotations

import json
import random
from typing import Annotated

import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fraud_detection.request import EXAMPLE_TRANSACTION, TransactionRequest
from fraud_detection.schemas import ScoringRequest
from lab2prod.serving.api import batch_request
from lab2prod.serving.columnar import ColumnarReader
from lab2prod.serving.frames import ContractBatch
from tests.serving.server import request_records

MAX = 50
Request = batch_request(
    TransactionRequest,
    contract=ScoringRequest,
    field="transactions",
    max_records=MAX,
    unique=["transaction_id"],
)
READER = ColumnarReader(
    TransactionRequest, field="transactions", max_records=MAX, unique=["transaction_id"]
)
BATCH = ContractBatch(ScoringRequest)


def body(*changes: dict, drop: str | None = None) -> bytes:
    records = []
    for i, change in enumerate(changes):
        record = {**EXAMPLE_TRANSACTION, "transaction_id": f"tx{i:010d}", **change}
        if drop is not None and i == len(changes) - 1:
            record.pop(drop)
        records.append(record)
    return json.dumps({"transactions": records}).encode()


def _length(columns: dict) -> int:
    return len(next(iter(columns.values())))


def slow_path(raw: bytes) -> pd.DataFrame:
    """The batch as the request model and ``ContractBatch.frame`` build it (raises if refused)."""
    frame, errors = BATCH.frame(Request.model_validate_json(raw).transactions)
    assert errors == []
    return frame


def test_real_rows_give_the_frame_the_request_model_gives(scoring_input):
    """Rows of scoring_input take the fast path, and it builds the identical typed frame."""
    raw = json.dumps({"transactions": request_records(scoring_input)}).encode()

    columns = READER.read(raw)

    assert columns is not None
    pd.testing.assert_frame_equal(BATCH.from_columns(columns, _length(columns)), slow_path(raw))


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 12},  # an integer where a float is expected: pydantic takes it as 12.0
        {"timestamp": "2026-03-14T21:07:45.5"},
        {"customer_id": 2**63 - 1},
    ],
)
def test_plain_valid_values_take_the_fast_path(change):
    """Valid values written the plain way are read columnar, to the same frame."""
    raw = body({}, change)
    columns = READER.read(raw)
    assert columns is not None
    pd.testing.assert_frame_equal(BATCH.from_columns(columns, _length(columns)), slow_path(raw))


@pytest.mark.parametrize(
    "raw",
    [
        body({}, {"timestamp": "2026-03-14T22:07:45+01:00"}),
        body({}, {"timestamp": "2026-03-14T21:07:45Z"}),
        body({}, {"timestamp": "2026-03-14 21:07:45"}),
        body({}, {"timestamp": 1773522465}),
        body({}, {"timestamp": "2026-03-14T21:07:45.1234567"}),
    ],
    ids=["offset", "zulu", "space", "unix-seconds", "nanoseconds"],
)
def test_unusual_valid_spellings_go_to_the_request_model(raw):
    """Spellings the request model reads but the fast path cannot prove are left to it."""
    assert READER.read(raw) is None
    assert len(slow_path(raw)) == 2


@pytest.mark.parametrize(
    "raw",
    [
        body({}, {"customer_id": True}),
        body({}, {"customer_id": 1.0}),
        body({}, {"customer_id": "12"}),
        body({}, {"customer_id": 2**63}),
        body({}, {"customer_id": -1}),
        body({}, {"customer_age": 17}),
        body({}, {"amount": 0}),
        body({}, {"amount": 1e6 + 1}),
        body({}, {"amount": True}),
        body({}, {"amount": "12.5"}),
        body({}, {"amount": None}),
        body({}, {"amount": 10**400}),
        b'{"transactions": [' + json.dumps(EXAMPLE_TRANSACTION).encode()[:-1] + b', "x": 1}]}',
        body({}, {"currency": "XXX"}),
        body({}, {"transaction_id": ""}),
        body({}, {"card_present": 1}),
        body({}, {"timestamp": "2026-02-30T10:00:00"}),
        body({}, {"timestamp": "2026-03-14T24:00:00"}),
        body({}, {"timestamp": "yesterday"}),
        body({}, {"unknown": 1}),
        body({}, {}, drop="amount"),
        body({"transaction_id": "same"}, {"transaction_id": "same"}),
        b'{"transactions": []}',
        body(*[{}] * (MAX + 1)),
        b'{"transactions": [], "extra": 1}',
        b'{"transactions": {"a": 1}}',
        b'{"transactions": [1, 2]}',
        b"[]",
        b'{"transactions": [{"amount": NaN}]}',
        b'{"transactions": [',
        json.dumps({"transactions": [{**EXAMPLE_TRANSACTION, "amount": float("inf")}]}).encode(),
    ],
)
def test_refused_requests_never_take_the_fast_path(raw):
    """Whatever the request model refuses, the fast path refuses too (and lets it say why)."""
    assert READER.read(raw) is None
    with pytest.raises(ValidationError):
        Request.model_validate_json(raw)


def test_random_requests_agree_with_the_request_model():
    """Seeded random edits of valid records: whenever the fast path accepts, the request model
    accepts the same request, and the two frames are identical."""
    pool = [
        0, -1, 1, 17, 18, 120, 121, 2**63 - 1, 2**63, 0.0, 0.5, -0.5, 1e6, 1e6 + 1, 720.0, 721.0,
        True, False, None, "", "EUR", "XXX", "online", "in_store", "NL", "mobile", "tx1",
        "2026-03-14T21:07:45", "2026-03-14T21:07:45+01:00", "2026-13-01T00:00:00", [], {},
    ]  # fmt: skip
    rng = random.Random(20261126)
    fields = list(EXAMPLE_TRANSACTION)
    accepted = refused = 0
    for _ in range(400):
        changes = [
            {rng.choice(fields): rng.choice(pool)} if rng.random() < 0.5 else {}
            for _ in range(rng.randint(1, 4))
        ]
        raw = body(*changes)
        columns = READER.read(raw)
        try:
            expected = slow_path(raw)
        except ValidationError:
            assert columns is None, raw
            refused += 1
            continue
        if columns is not None:
            pd.testing.assert_frame_equal(BATCH.from_columns(columns, _length(columns)), expected)
            accepted += 1
    assert accepted > 50 and refused > 50  # both sides of the table were exercised


class _Coded(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(strict=True)]


class _Stripped(_Coded):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Upper(_Coded):
    @field_validator("code")
    @classmethod
    def upper(cls, value: str) -> str:
        return value.upper()


class _Patterned(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$", strict=True)]


class _Aliased(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(strict=True, alias="Code")]


class _Lenient(BaseModel):
    code: Annotated[str, Field(strict=True)]


def test_a_plain_model_takes_the_fast_path():
    """The control: a strict str field, extra fields forbidden."""
    assert ColumnarReader(_Coded, field="records", max_records=10).read(
        b'{"records": [{"code": "abc"}]}'
    ) == {"code": ["abc"]}


@pytest.mark.parametrize(
    "model",
    [_Stripped, _Upper, _Patterned, _Aliased, _Lenient],
    ids=["strips-whitespace", "field-validator", "pattern", "alias", "extra-allowed"],
)
def test_what_it_cannot_prove_turns_the_fast_path_off(model):
    """Settings, validators or constraints it does not know leave the model to pydantic."""
    reader = ColumnarReader(model, field="records", max_records=10)

    assert reader.enabled is False
    assert reader.read(b'{"records": [{"code": "abc"}]}') is None


async def _from_http(raw: bytes) -> pd.DataFrame:
    """What BentoML hands the route for a request with this body."""
    from _bentoml_impl.serde import JSONSerde
    from starlette.requests import Request as HttpRequest

    async def receive() -> dict:
        return {"type": "http.request", "body": raw, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "headers": [(b"content-type", b"application/json")],
    }
    parsed = await Request.from_http_request(HttpRequest(scope, receive), JSONSerde())
    batch = parsed.transactions
    return BATCH.from_columns(batch.columns, len(batch))


@pytest.mark.parametrize(
    ("raw", "fast"),
    [
        (body({}, {}), True),
        (body({}, {"timestamp": "2026-03-14T21:07:45Z"}), False),
    ],
    ids=["fast-path", "request-model"],
)
def test_the_route_gets_the_same_frame_either_way(raw, fast):
    """Fast path or not, the route receives the batch's columns, making the same frame."""
    import asyncio

    assert (READER.read(raw) is not None) is fast
    frame = asyncio.run(_from_http(raw))
    pd.testing.assert_frame_equal(frame, slow_path(raw))


def test_a_refused_request_still_raises_the_request_models_error():
    """A bad record reaches the request model, whose error names the field (BentoML's 400)."""
    import asyncio

    with pytest.raises(ValidationError, match="customer_age"):
        asyncio.run(_from_http(body({}, {"customer_age": 17})))
