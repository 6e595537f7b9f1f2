"""`infer_contract`: a reviewable pandera module that validates the data it was inferred from."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from pandera.errors import SchemaError, SchemaErrors

from lab2prod.contracts.infer import infer_contract, model_class_name
from lab2prod.errors import ContractError

ROWS = 40
GOLDEN = Path(__file__).parents[2] / "fixtures" / "golden" / "contracts"
RUFF = Path(sys.executable).with_name("ruff")


def pandas_frame() -> pd.DataFrame:
    """Every pandas 3 dtype the inferrer knows, 40 rows, with a null here and there."""
    i = np.arange(ROWS)
    return pd.DataFrame(
        {
            "transaction_id": [f"tx-{n:04d}" for n in i],
            "customer_id": 100 + i % 7,
            "amount": np.where(i == 3, np.nan, 0.5 + i * 12.345678),
            "is_fraud": i % 9 == 0,
            "channel": np.array(["web", "pos", "atm"])[i % 3],
            "note": [None if n % 4 == 0 else f"note {n}" for n in i],
            "merchant_category": pd.Categorical(np.array(["grocery", "fuel", "travel"])[i % 3]),
            "created_at": pd.date_range("2024-01-01 08:30", periods=ROWS, freq="37min"),
            "settled_at": pd.date_range("2024-01-02", periods=ROWS, freq="h", tz="UTC"),
            "legacy_ns": pd.date_range("2023-06-01", periods=ROWS, freq="D", unit="ns"),
            "quantity": (i % 5).astype("int32"),
            "refunds": pd.array([None if n % 6 == 0 else n for n in i], dtype="Int64"),
            "disputed": pd.array([None if n % 5 == 0 else n % 2 == 0 for n in i], dtype="boolean"),
            "terminal": pd.Series([f"T{n % 4}" for n in i], dtype="string[python]"),
            "retries": (i % 3).astype("uint8"),
            "card type": np.array(["debit", "credit"])[i % 2],
            "class": 1,
        }
    )


def polars_frame() -> pl.DataFrame:
    """Every polars dtype the inferrer knows, 40 rows, with nulls and a NaN."""
    start = dt.datetime(2024, 1, 1, 8, 30)
    return pl.DataFrame(
        {
            "transaction_id": [f"tx-{n:04d}" for n in range(ROWS)],
            "customer_id": [100 + n % 7 for n in range(ROWS)],
            "amount": [None if n == 3 else 0.5 + n * 12.345678 for n in range(ROWS)],
            "ratio": [float("nan") if n == 5 else n / 3 for n in range(ROWS)],
            "is_fraud": [n % 9 == 0 for n in range(ROWS)],
            "channel": [["web", "pos", "atm"][n % 3] for n in range(ROWS)],
            "merchant_category": pl.Series([["grocery", "fuel"][n % 2] for n in range(ROWS)]),
            "tier": pl.Series([["gold", "basic"][n % 2] for n in range(ROWS)]),
            "created_at": [start + dt.timedelta(minutes=37 * n) for n in range(ROWS)],
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(ROWS)],
            "quantity": pl.Series([n % 5 for n in range(ROWS)], dtype=pl.Int32),
            "card type": [["debit", "credit"][n % 2] for n in range(ROWS)],
        }
    ).with_columns(
        pl.col("merchant_category").cast(pl.Categorical),
        pl.col("tier").cast(pl.Enum(["basic", "gold"])),
        settled_at=pl.col("created_at").dt.replace_time_zone("UTC").dt.cast_time_unit("ms"),
        precise_at=pl.col("created_at").cast(pl.Datetime("ns")) + pl.duration(nanoseconds=7),
    )


def load_model(source: str, path: Path, class_name: str) -> Any:
    """Import a generated module from ``path`` and return its model class."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)


@pytest.fixture(scope="module")
def pandas_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The model inferred from `pandas_frame()`, imported from its written module."""
    source = infer_contract(pandas_frame(), class_name="Transactions", dataset_name="transactions")
    return load_model(source, tmp_path_factory.mktemp("pd") / "transactions.py", "Transactions")


@pytest.fixture(scope="module")
def polars_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The model inferred from `polars_frame()` given lazily, imported from its module."""
    source = infer_contract(polars_frame().lazy(), class_name="Features", dataset_name="features")
    return load_model(source, tmp_path_factory.mktemp("pl") / "features.py", "Features")


def test_pandas_contract_validates_its_own_data(pandas_model: Any):
    """The model inferred from a pandas frame accepts that very frame, without coercion."""
    frame = pandas_frame()
    pd.testing.assert_frame_equal(pandas_model.validate(frame), frame)


def test_polars_contract_validates_its_own_data(polars_model: Any):
    """The model inferred from a polars LazyFrame accepts the collected frame."""
    frame = polars_frame()
    assert polars_model.validate(frame).equals(frame)


def _pd_set(column: str, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def corrupt(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].cat.add_categories([value])
        frame.loc[2, column] = value
        return frame

    return corrupt


def _pl_set(column: str, value: Any) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def corrupt(frame: pl.DataFrame) -> pl.DataFrame:
        row = pl.int_range(pl.len()) == 2
        new = pl.lit(value, dtype=frame.schema[column] if value is not None else None)
        return frame.with_columns(pl.when(row).then(new).otherwise(pl.col(column)).alias(column))

    return corrupt


CORRUPTIONS = [
    ("null", _pd_set("channel", None), "non-nullable series 'channel' contains null values"),
    ("too big", _pd_set("customer_id", 107), r"less_than_or_equal_to\(106\)"),
    ("too small", _pd_set("amount", 0.1), r"greater_than_or_equal_to\(0.5\)"),
    ("too late", _pd_set("created_at", pd.Timestamp("2030-01-01")), "less_than_or_equal_to"),
    ("unknown", _pd_set("channel", "fax"), r"isin\(\['atm', 'pos', 'web'\]\)"),
    ("unknown cat", _pd_set("merchant_category", "toys"), r"isin\(\['fuel', 'grocery'"),
    ("unknown alias", _pd_set("card type", "cash"), "Column 'card type' failed"),
    ("duplicate id", _pd_set("transaction_id", "tx-0000"), "'transaction_id' contains duplicate"),
    ("extra column", lambda f: f.assign(extra=1), "column 'extra' not in DataFrameSchema"),
    ("missing column", lambda f: f.drop(columns="note"), "column 'note' not in dataframe"),
    (
        "wrong dtype",
        lambda f: f.assign(customer_id=f["customer_id"].astype("float64")),
        "expected series 'customer_id' to have type int64, got float64",
    ),
    (
        "other time zone",
        lambda f: f.assign(settled_at=f["settled_at"].dt.tz_convert("Europe/Paris")),
        r"type datetime64\[us, UTC\], got datetime64\[us, Europe/Paris\]",
    ),
]

POLARS_CORRUPTIONS = [
    ("null", _pl_set("channel", None), "non-nullable column 'channel' contains null values"),
    ("too big", _pl_set("customer_id", 107), r"less_than_or_equal_to\(106\)"),
    ("too late", _pl_set("day", dt.date(2030, 1, 1)), "less_than_or_equal_to"),
    ("unknown", _pl_set("channel", "fax"), r"isin\(\['atm', 'pos', 'web'\]\)"),
    ("duplicate id", _pl_set("transaction_id", "tx-0000"), "'transaction_id' not unique"),
    ("extra column", lambda f: f.with_columns(extra=1), "column 'extra' not in DataFrameSchema"),
    (
        "wrong dtype",
        lambda f: f.with_columns(pl.col("customer_id").cast(pl.Float64)),
        "expected column 'customer_id' to have type Int64, got Float64",
    ),
    (
        "other time unit",
        lambda f: f.with_columns(pl.col("created_at").dt.cast_time_unit("ms")),
        "expected column 'created_at' to have type Datetime\\(time_unit='us'",
    ),
]


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [pytest.param(corrupt, message, id=name) for name, corrupt, message in CORRUPTIONS],
)
def test_pandas_contract_rejects_corruptions(pandas_model: Any, corrupt: Callable, message: str):
    """Each corruption of the pandas data fails validation with pandera's explanation."""
    with pytest.raises((SchemaError, SchemaErrors), match=message):
        pandas_model.validate(corrupt(pandas_frame()))


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [pytest.param(corrupt, message, id=name) for name, corrupt, message in POLARS_CORRUPTIONS],
)
def test_polars_contract_rejects_corruptions(polars_model: Any, corrupt: Callable, message: str):
    """Each corruption of the polars data fails validation with pandera's explanation."""
    with pytest.raises((SchemaError, SchemaErrors), match=message):
        polars_model.validate(corrupt(polars_frame()))


@pytest.mark.parametrize("make", [pandas_frame, polars_frame])
def test_same_data_gives_identical_text(make: Callable[[], Any]):
    """Inferring twice from equal data gives byte-identical modules: diffs show data changes."""
    first = infer_contract(make(), class_name="Model", dataset_name="data")
    assert infer_contract(make(), class_name="Model", dataset_name="data") == first


def test_generated_text_states_the_contract():
    """The module says where it came from and spells out each inferred rule a reviewer edits."""
    source = infer_contract(pandas_frame(), class_name="Transactions", dataset_name="transactions")
    assert source.startswith('"""Data contract of the catalog dataset ``transactions`` (pandas).')
    assert "by ``kedro contract infer`` from 40 rows" in source
    assert "review and edit" in source
    assert "import pandera.pandas as pa\n" in source and "import pandera\n" not in source
    lines = {line.split(":")[0].strip(): line for line in source.splitlines() if ": " in line}
    assert "unique=True" in lines["transaction_id"]
    assert "unique=True" not in lines["customer_id"]
    assert 'isin=["atm", "pos", "web"]' in lines["channel"]
    assert "isin" not in lines["note"] and "nullable=True" in lines["note"]
    assert "Series[str]" in lines["channel"]
    assert "Series[pd.Timestamp]" in lines["created_at"]
    assert 'Series[pd.DatetimeTZDtype("us", "UTC")]' in lines["settled_at"]
    assert "Series[pa.Int32]" in lines["quantity"]
    assert 'alias="card type"' in source and 'alias="class"' in source
    assert 'ge=pd.Timestamp("2024-01-01 08:30:00")' in source
    assert "        strict = True\n        coerce = False\n" in source


def awkward_frame() -> pd.DataFrame:
    """Values that test the layout: long categories, exponents, quotes, long and odd names."""
    labels = [f"a rather long category label, number {n:02d}" for n in range(20)]
    return pd.DataFrame(
        {
            "label": [labels[n % 20] for n in range(ROWS)],
            "tiny": np.linspace(1.234567e-7, 3.3e-7, ROWS),
            "huge": np.linspace(1e20, 3.7e21, ROWS),
            "quoted": [
                ["it's", 'say "hi"', "back\\slash", "new\nline", "é ü"][n % 5] for n in range(ROWS)
            ],
            "1st": 1,
            "pa": 2,
            "a_column_name_long_enough_to_push_its_field_line_past_eighty_eight_id": range(ROWS),
        }
    )


@pytest.mark.parametrize(
    "data", [pandas_frame(), polars_frame(), awkward_frame()], ids=["pandas", "polars", "awkward"]
)
def test_generated_module_is_ruff_clean(data: Any, tmp_path: Path):
    """`ruff format --check` and `ruff check` pass on the output at line lengths 88 and 100."""
    path = tmp_path / "contract.py"
    path.write_text(infer_contract(data, class_name="Model", dataset_name="data"))
    for length in ("88", "100"):
        for command in (["format", "--check", "--diff"], ["check", "--select", "E,F,W,I,UP,B"]):
            result = subprocess.run(
                [str(RUFF), *command, "--isolated", "--line-length", length, str(path)],
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("backend", ["pandas", "polars"])
def test_awkward_frame_round_trips(backend: str, tmp_path: Path):
    """Odd names get aliases and rounded floats still bound the data: the model accepts it."""
    frame = awkward_frame() if backend == "pandas" else pl.from_pandas(awkward_frame())
    source = infer_contract(frame, class_name="Odd", dataset_name="odd")
    model = load_model(source, tmp_path / "odd.py", "Odd")
    model.validate(frame)
    assert "column_1st: " in source and 'alias="1st"' in source and 'alias="pa"' in source


@pytest.mark.parametrize(
    ("name", "backend", "make"),
    [("small_pandas", "pandas", pandas_frame), ("small_polars", "polars", polars_frame)],
)
def test_output_matches_golden_file(name: str, backend: str, make: Callable[[], Any]):
    """The text for a fixed frame is the reviewed golden file (regenerate: REGENERATE_GOLDEN=1)."""
    source = infer_contract(make(), class_name="Transactions", dataset_name="transactions")
    golden = GOLDEN / f"{name}.py"
    if os.environ.get("REGENERATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(source)
    assert source == golden.read_text()
    assert f"import pandera.{backend} as pa" in source


@pytest.mark.parametrize(
    ("data", "class_name", "message"),
    [
        (pd.DataFrame({"a": pd.Series([], dtype="int64")}), "M", "from 0 rows: ranges"),
        (pl.DataFrame({"a": pl.Series([], dtype=pl.Int64)}), "M", "Produce the dataset first"),
        ([{"a": 1}], "M", "from a builtins.list: expected a pandas DataFrame"),
        (np.zeros((2, 2)), "M", "from a numpy.ndarray"),
        (pd.DataFrame({"wait": pd.to_timedelta([1, 2], unit="s")}), "M", "'wait' has dtype time"),
        (pl.DataFrame({"tags": [["a"], ["b"]]}), "M", "column 'tags' has dtype List"),
        (pd.DataFrame({0: [1, 2]}), "M", "column names must be distinct strings, got 0"),
        (pd.DataFrame({"a": [1]}), "class", "Cannot name the contract class 'class'"),
        (pd.DataFrame({"a": [1]}), "Series", "Cannot name the contract class 'Series'"),
    ],
    ids=[
        "empty pandas",
        "empty polars",
        "list",
        "ndarray",
        "timedelta",
        "list dtype",
        "int name",
        "keyword class",
        "shadowing class",
    ],
)
def test_bad_input_is_a_contract_error(data: Any, class_name: str, message: str):
    """Data or names it cannot infer from raise ContractError saying what and how to fix it."""
    with pytest.raises(ContractError, match=message):
        infer_contract(data, class_name=class_name, dataset_name="transactions")


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ("raw_transactions", "RawTransactions"),
        ("model_input@pandas", "ModelInput"),
        ("a.b_c", "ABC"),
        ("01_raw", "Dataset01Raw"),
        ("series", "SeriesContract"),
        ("features-v2", "FeaturesV2"),
    ],
)
def test_model_class_name(dataset: str, expected: str):
    """Catalog names become CamelCase identifiers, transcoding suffix and namespaces handled."""
    assert model_class_name(dataset) == expected
    assert expected.isidentifier()
