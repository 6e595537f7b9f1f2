"""The world transactions happen in: customers, merchants and the tendencies of categories.

Customers spend in their own habits (amount level, categories, online share, device) near home,
and sometimes travel. The tables of this module (category shares, amounts and online shares, the
hour-of-day profile) are shared by legitimate spending, the fraud patterns and the drift scenarios.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud_detection.domain import COUNTRIES, MERCHANT_CATEGORIES, ONLINE_DEVICES

from .params import GenerationParams

# Relative share of spending per category (legitimate), and the tendencies of each category.
CATEGORY_WEIGHT = np.array([30, 18, 9, 8, 6, 7, 3, 10, 2, 5, 0.6, 0.3, 0.6, 0.5])
CATEGORY_LOG_AMOUNT = np.array(
    [0.0, 0.1, 0.5, -0.6, -0.3, 0.7, 1.8, 0.6, 2.2, 0.3, 0.8, 1.5, 2.0, 0.9]
)
CATEGORY_ONLINE = np.array(
    [0.05, 0.08, 0.01, 0.4, 0.1, 0.35, 0.5, 0.97, 0.7, 0.5, 0.85, 1.0, 0.3, 0.75]
)
_CATEGORY_RISK = np.array([1, 1, 1, 1, 1, 2, 3, 2, 2, 2, 5, 6, 4, 5], dtype=float)
# Hour-of-day profile of legitimate spending: quiet at night, peaks at lunch and early evening.
HOUR_PROFILE = np.array(
    [
        0.4,
        0.2,
        0.1,
        0.1,
        0.1,
        0.3,
        1,
        2.5,
        4,
        5,
        5.5,
        6.5,
        8,
        7,
        6,
        6,
        6.5,
        7.5,
        8,
        7,
        5.5,
        4,
        2.5,
        1,
    ]
)
_HOME_COUNTRIES = ("NL", "DE", "FR", "BE", "GB")
_HOME_COUNTRY_WEIGHT = np.array([0.55, 0.15, 0.12, 0.1, 0.08])
SECONDS_PER_DAY = 86_400

CAT = {name: i for i, name in enumerate(MERCHANT_CATEGORIES)}
COUNTRY = {name: i for i, name in enumerate(COUNTRIES)}


def index(names: tuple[str, ...], lookup: dict[str, int]) -> np.ndarray:
    """The codes of ``names`` in ``lookup`` (``CAT``, ``COUNTRY``), as an array."""
    return np.array([lookup[name] for name in names])


def generate_customers(params: GenerationParams) -> pd.DataFrame:
    """Draw the card holders: home, age, account age and spending habits.

    Args:
        params: Generator knobs.

    Returns:
        One row per customer.
    """
    rng = np.random.default_rng([params.seed, 1])
    n = params.n_customers
    home = rng.choice(len(_HOME_COUNTRIES), size=n, p=_HOME_COUNTRY_WEIGHT)
    new_account = rng.random(n) < 0.05
    opened_days_before = np.where(
        new_account,
        rng.integers(0, 30, size=n),
        np.minimum(30 + rng.exponential(3 * 365, size=n).astype(np.int64), 40 * 365),
    )
    span_days = (params.end_date - params.start_date).days
    travels = rng.random(n) < params.travel_rate
    trip_start = rng.uniform(0, max(span_days - 3, 1), size=n)
    trip_days = rng.uniform(3, 15, size=n)
    foreign = np.array([c for c in COUNTRIES if c not in _HOME_COUNTRIES])
    return pd.DataFrame(
        {
            "customer_id": np.arange(100_000, 100_000 + n, dtype=np.int64),
            "home_country": np.array(_HOME_COUNTRIES)[home],
            "age": np.clip(18 + rng.gamma(3.0, 9.0, size=n), 18, 95).astype(np.int64),
            "account_opened": pd.Timestamp(params.start_date)
            - pd.to_timedelta(opened_days_before, unit="D"),
            "mean_log_amount": rng.normal(3.3, 0.45, size=n),
            "activity": rng.gamma(2.0, 1.0, size=n),
            "online_share": rng.beta(2.0, 4.0, size=n),
            "night_owl": rng.random(n) < 0.06,
            "primary_device": rng.choice(np.array(ONLINE_DEVICES), size=n, p=[0.65, 0.28, 0.07]),
            "trip_start_day": np.where(travels, trip_start, np.inf),
            "trip_end_day": np.where(travels, trip_start + trip_days, np.inf),
            "trip_country": rng.choice(foreign, size=n),
            "trip_distance_km": rng.uniform(300, 9_000, size=n),
        }
    )


def generate_merchants(params: GenerationParams) -> pd.DataFrame:
    """Draw the merchants: category and risk.

    Every category has at least one merchant; the rest follow the categories' spending shares.

    Args:
        params: Generator knobs.

    Returns:
        One row per merchant.
    """
    rng = np.random.default_rng([params.seed, 2])
    n_cat = len(MERCHANT_CATEGORIES)
    weights = np.sqrt(CATEGORY_WEIGHT) / np.sqrt(CATEGORY_WEIGHT).sum()
    category = np.concatenate(
        [np.arange(n_cat), rng.choice(n_cat, size=params.n_merchants - n_cat, p=weights)]
    )
    risk = rng.beta(1.0 + _CATEGORY_RISK[category], 12.0)
    return pd.DataFrame(
        {
            "merchant_id": np.arange(10_000, 10_000 + params.n_merchants, dtype=np.int64),
            "merchant_category": np.array(MERCHANT_CATEGORIES)[category],
            "risk": risk,
        }
    )


def pick_merchants(
    rng: np.random.Generator, merchants: pd.DataFrame, category: np.ndarray
) -> np.ndarray:
    """A merchant of the right category for each transaction."""
    merchant_category = merchants["merchant_category"].map(CAT).to_numpy()
    merchant_ids = merchants["merchant_id"].to_numpy()
    picked = np.empty(category.size, dtype=np.int64)
    for cat in range(len(MERCHANT_CATEGORIES)):
        rows = np.flatnonzero(category == cat)
        pool = merchant_ids[merchant_category == cat]
        picked[rows] = pool[rng.integers(0, pool.size, size=rows.size)]
    return picked
