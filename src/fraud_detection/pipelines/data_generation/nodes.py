"""A seeded generator of card transactions with known fraud patterns.

Customers spend in their own habits (amount level, categories, online share, device) near home,
and sometimes travel. Fraud is injected as events of four known patterns:

- account takeover: a burst of online purchases from a new device, often abroad, in risky
  categories, far above the customer's usual amounts;
- card testing: a few tiny online amounts within minutes, then one or two large ones;
- cloned card: in-store, card present, thousands of kilometres from home;
- risky categories at night: gambling, crypto, jewelry or gift cards between midnight and 6 am.

Labels carry noise (some fraud is never reported, a few legitimate transactions are), so a model
can learn the patterns but not perfectly. A drift scenario shifts the data after a point in time,
for monitoring work, and leaves the data before it as the scenario ``none`` draws it. Everything
is vectorised numpy; the same parameters give the same table.

The generator's modules: ``params`` (the knobs), ``world`` (customers, merchants, categories),
``fraud`` (the known patterns), ``drift`` (the scenarios); this module spends and assembles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud_detection.domain import (
    COUNTRIES,
    COUNTRY_CURRENCY,
    CURRENCIES,
    MERCHANT_CATEGORIES,
    ONLINE_DEVICES,
    TRANSACTION_COLUMNS,
)

from .drift import fraud_surge, merchant_mix_shift
from .fraud import fraud_transactions
from .params import DriftParams, DriftScenario, GenerationParams, LabelNoiseParams
from .world import (
    CAT,
    CATEGORY_LOG_AMOUNT,
    CATEGORY_ONLINE,
    CATEGORY_WEIGHT,
    COUNTRY,
    HOUR_PROFILE,
    SECONDS_PER_DAY,
    generate_customers,
    generate_merchants,
    index,
    pick_merchants,
)

__all__ = [
    "DriftParams",
    "DriftScenario",
    "GenerationParams",
    "LabelNoiseParams",
    "generate_customers",
    "generate_merchants",
    "generate_transactions",
]

_US_PER_SECOND = 1_000_000
_CHANNEL_BY_ONLINE = ("in_store", "online")
"""``channel`` by the ``online`` flag: 0 in store, 1 online."""


def _choice_rows(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """Sample one column index per row from rows of cumulative probabilities."""
    draws = rng.random(cumulative.shape[0])[:, None]
    return np.minimum((cumulative < draws).sum(axis=1), cumulative.shape[1] - 1)


def _legit_transactions(
    rng: np.random.Generator,
    params: GenerationParams,
    customers: pd.DataFrame,
    n: int,
    span_s: float,
) -> dict[str, np.ndarray]:
    """Legitimate spending as column arrays (customer as a row index into ``customers``)."""
    activity = customers["activity"].to_numpy()
    customer = rng.choice(activity.size, size=n, p=activity / activity.sum())
    span_days = int(np.ceil(span_s / SECONDS_PER_DAY))
    day = rng.integers(0, span_days, size=n)
    # Night owls (shift workers, gamers) spend late at night, much of it in risky categories.
    night_owl = customers["night_owl"].to_numpy()[customer]
    late = np.roll(HOUR_PROFILE, -9)
    hour = np.where(
        night_owl,
        rng.choice(24, size=n, p=late / late.sum()),
        rng.choice(24, size=n, p=HOUR_PROFILE / HOUR_PROFILE.sum()),
    )
    seconds = np.minimum(
        day * SECONDS_PER_DAY + hour * 3_600 + rng.uniform(0, 3_600, size=n), span_s - 1
    )
    drift_from = params.drift.start * span_s
    drifted = seconds >= drift_from if params.drift.scenario != DriftScenario.NONE else None

    # Each customer has their own category tastes around the population's.
    taste = CATEGORY_WEIGHT * rng.lognormal(0.0, 0.6, size=(activity.size, CATEGORY_WEIGHT.size))
    night_taste = np.ones(CATEGORY_WEIGHT.size)
    night_taste[index(("gambling", "crypto", "entertainment", "gift_cards"), CAT)] = 8.0
    taste = np.where(customers["night_owl"].to_numpy()[:, None], taste * night_taste, taste)
    category = np.empty(n, dtype=np.int64)
    shifted = np.zeros(n, dtype=bool)
    if drifted is not None and params.drift.scenario == DriftScenario.NEW_MERCHANT_MIX:
        shifted = drifted
    for rows, weights in ((~shifted, taste), (shifted, taste * merchant_mix_shift(params))):
        if rows.any():
            cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
            category[rows] = _choice_rows(rng, cumulative[customer[rows]])

    online_share = customers["online_share"].to_numpy()[customer]
    p_online = np.clip(CATEGORY_ONLINE[category] * (0.4 + 1.2 * online_share), 0.0, 1.0)
    if shifted.any():
        p_online[shifted] = np.clip(p_online[shifted] * params.drift.strength, 0.0, 1.0)
    online = rng.random(n) < p_online

    trip_start = customers["trip_start_day"].to_numpy()[customer] * SECONDS_PER_DAY
    trip_end = customers["trip_end_day"].to_numpy()[customer] * SECONDS_PER_DAY
    abroad = (seconds >= trip_start) & (seconds < trip_end)
    trip_country = customers["trip_country"].map(COUNTRY).to_numpy()[customer]
    trip_distance = customers["trip_distance_km"].to_numpy()[customer]
    local = np.where(
        online, rng.lognormal(np.log(2.0), 1.0, size=n), rng.lognormal(np.log(5.0), 0.9, size=n)
    )
    distance = np.where(abroad, trip_distance * rng.uniform(0.97, 1.03, size=n) + local, local)

    mean_log = customers["mean_log_amount"].to_numpy()[customer]
    amount = rng.lognormal(mean_log + CATEGORY_LOG_AMOUNT[category], 0.8)
    return {
        "customer": customer,
        "seconds": seconds,
        "category": category,
        "online": online,
        "amount": amount,
        "abroad": abroad,
        "country": np.where(abroad, trip_country, -1),
        "distance": distance,
        "new_device": rng.random(n) < 0.05,
    }


def generate_transactions(
    customers: pd.DataFrame, merchants: pd.DataFrame, params: GenerationParams
) -> pd.DataFrame:
    """Generate labelled card transactions for ``customers`` at ``merchants``.

    Args:
        customers: Output of :func:`generate_customers`.
        merchants: Output of :func:`generate_merchants`.
        params: Generator knobs.

    Returns:
        ``raw_transactions``: the columns of ``docs/data.md``, in time order.
    """
    rng = np.random.default_rng([params.seed, 3])
    span_s = float((params.end_date - params.start_date).days * SECONDS_PER_DAY)
    fraud = fraud_transactions(
        rng, customers, round(params.n_transactions * params.fraud_rate), span_s
    )
    n_fraud = fraud["customer"].size
    legit = _legit_transactions(rng, params, customers, params.n_transactions - n_fraud, span_s)
    cols = {key: np.concatenate([legit[key], fraud[key]]) for key in legit}
    label = np.concatenate([np.zeros(params.n_transactions - n_fraud), np.ones(n_fraud)])
    n = label.size
    # Merchants are drawn for the categories as drawn here: the surge below changes the
    # categories of rows after the start only, and must not change the draws of those before.
    drawn_category = cols["category"]
    surge_rows, surge = np.array([], dtype=np.int64), {}
    if params.drift.scenario == DriftScenario.FRAUD_SURGE:
        surge_rows, surge = fraud_surge(params, customers, legit["seconds"], n_fraud, span_s)
        if surge_rows.size:
            drawn_category = drawn_category.copy()
            for key, values in surge.items():
                cols[key][surge_rows] = values
            label[surge_rows] = 1.0

    noise = params.label_noise
    flip = np.where(
        label == 1, rng.random(n) < noise.missed_fraud_rate, rng.random(n) < noise.false_report_rate
    )
    observed = np.where(flip, 1 - label, label).astype(np.int8)

    # Text columns are built as categories (an integer code per row) and become strings once,
    # in the finished frame: a numpy array of strings costs 4 bytes per character per row. With
    # the frame built already sorted (below), the node's peak memory at 2,000,000 rows fell from
    # 1,281 to 828 MiB above the process's start; the table is the same, byte for byte.
    customer = cols["customer"]
    home = customers["home_country"].map(COUNTRY).to_numpy()[customer]
    country = np.where(cols["country"] >= 0, cols["country"], home)
    currency_code = np.array([CURRENCIES.index(COUNTRY_CURRENCY[c]) for c in COUNTRIES])

    devices = (*ONLINE_DEVICES, "pos_terminal")
    mobile, desktop = ONLINE_DEVICES.index("mobile"), ONLINE_DEVICES.index("desktop")
    primary = customers["primary_device"].map(devices.index).to_numpy()[customer]
    other = rng.choice(len(ONLINE_DEVICES), size=n)  # the draws of rng.choice(ONLINE_DEVICES)
    other = np.where(other == primary, np.where(primary == desktop, mobile, desktop), other)
    device = np.where(
        cols["online"], np.where(cols["new_device"], other, primary), len(ONLINE_DEVICES)
    )

    amount = cols["amount"]
    if params.drift.scenario == DriftScenario.AMOUNT_INFLATION:
        amount = np.where(
            cols["seconds"] >= params.drift.start * span_s, amount * params.drift.strength, amount
        )
    amount = np.maximum(np.round(amount, 2), 0.01)

    merchant_id = pick_merchants(rng, merchants, drawn_category)
    if surge_rows.size:
        surge_rng = np.random.default_rng([params.seed, 5])
        merchant_id[surge_rows] = pick_merchants(surge_rng, merchants, surge["category"])
    # Microsecond timestamps keep ties between a customer's transactions practically absent.
    micros = (cols["seconds"] * _US_PER_SECOND).astype(np.int64)
    timestamp = pd.Timestamp(params.start_date).as_unit("us") + pd.to_timedelta(micros, unit="us")
    opened = customers["account_opened"].to_numpy()[customer]
    account_age = ((timestamp.to_numpy() - opened) // np.timedelta64(1, "D")).astype(np.int64)

    customer_id = customers["customer_id"].to_numpy()[customer]
    columns = {
        "timestamp": timestamp,
        "customer_id": customer_id,
        "customer_age": customers["age"].to_numpy()[customer],
        "account_age_days": account_age,
        "amount": amount,
        "currency": pd.Categorical.from_codes(currency_code[country], CURRENCIES),
        "merchant_id": merchant_id,
        "merchant_category": pd.Categorical.from_codes(cols["category"], MERCHANT_CATEGORIES),
        "channel": pd.Categorical.from_codes(cols["online"].astype(np.int8), _CHANNEL_BY_ONLINE),
        "card_present": ~cols["online"],
        "distance_from_home_km": np.round(cols["distance"], 3),
        "device": pd.Categorical.from_codes(device, devices),
        "country": pd.Categorical.from_codes(country, COUNTRIES),
        "is_fraud": observed,
    }
    del cols
    # In time order, ties by customer (a stable sort, as sort_values(kind="stable")), each column
    # put in order on its own: the frame is built once, already sorted, never copied whole.
    order = np.lexsort((customer_id, micros))
    ids = "tx" + pd.Series(np.arange(n), dtype="string").str.zfill(10)
    frame = {"transaction_id": ids.astype("str")}
    for name in (*TRANSACTION_COLUMNS[1:], "is_fraud"):
        column = columns.pop(name)[order]
        frame[name] = (
            pd.Series(column).astype("str") if isinstance(column, pd.Categorical) else column
        )
    return pd.DataFrame(frame)
