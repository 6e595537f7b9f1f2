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
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fraud_detection.domain import (
    COUNTRIES,
    COUNTRY_CURRENCY,
    CURRENCIES,
    MERCHANT_CATEGORIES,
    ONLINE_DEVICES,
    TRANSACTION_COLUMNS,
)

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class DriftScenario(StrEnum):
    """How the data shifts after ``drift.start``."""

    NONE = "none"
    NEW_MERCHANT_MIX = "new_merchant_mix"
    """Spending moves towards online retail, electronics, crypto and gift cards, more online."""
    AMOUNT_INFLATION = "amount_inflation"
    """Every amount is multiplied by ``drift.strength``."""
    FRAUD_SURGE = "fraud_surge"
    """Fraud becomes ``drift.strength`` times as frequent: half of the extra fraud is more of the
    known patterns, half a new campaign the training period never saw (``_new_campaign``). A
    strength of 1 or less: no surge."""


class DriftParams(BaseModel):
    """A shift of the data from a point in time on."""

    model_config = ConfigDict(extra="forbid")

    scenario: DriftScenario = DriftScenario.NONE
    start: Fraction = 0.5
    """Where in the date range the drift begins, as a fraction of the range."""
    strength: float = Field(default=1.5, gt=0.0)


class LabelNoiseParams(BaseModel):
    """How imperfect the fraud labels are."""

    model_config = ConfigDict(extra="forbid")

    missed_fraud_rate: Fraction = 0.1
    """Share of fraudulent transactions labelled legitimate (never reported)."""
    false_report_rate: Fraction = 0.0005
    """Share of legitimate transactions labelled fraud (false disputes)."""


class GenerationParams(BaseModel):
    """Knobs of the generator (``data_generation`` in ``parameters_data_generation.yml``)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 42
    n_customers: int = Field(default=10_000, ge=1)
    n_merchants: int = Field(default=2_000, ge=len(MERCHANT_CATEGORIES))
    n_transactions: int = Field(default=300_000, ge=100)
    start_date: dt.date = dt.date(2026, 1, 1)
    end_date: dt.date = dt.date(2026, 4, 1)
    fraud_rate: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.01
    """Share of transactions that are fraud, before label noise."""
    travel_rate: Fraction = 0.15
    """Share of customers who take one trip abroad in the period."""
    label_noise: LabelNoiseParams = LabelNoiseParams()
    drift: DriftParams = DriftParams()

    @model_validator(mode="after")
    def _end_after_start(self) -> GenerationParams:
        if self.end_date <= self.start_date + dt.timedelta(days=1):
            raise ValueError(
                f"end_date ({self.end_date}) must be more than one day after "
                f"start_date ({self.start_date})"
            )
        return self


# Relative share of spending per category (legitimate), and the tendencies of each category.
_CATEGORY_WEIGHT = np.array([30, 18, 9, 8, 6, 7, 3, 10, 2, 5, 0.6, 0.3, 0.6, 0.5])
_CATEGORY_LOG_AMOUNT = np.array(
    [0.0, 0.1, 0.5, -0.6, -0.3, 0.7, 1.8, 0.6, 2.2, 0.3, 0.8, 1.5, 2.0, 0.9]
)
_CATEGORY_ONLINE = np.array(
    [0.05, 0.08, 0.01, 0.4, 0.1, 0.35, 0.5, 0.97, 0.7, 0.5, 0.85, 1.0, 0.3, 0.75]
)
_CATEGORY_RISK = np.array([1, 1, 1, 1, 1, 2, 3, 2, 2, 2, 5, 6, 4, 5], dtype=float)
# Hour-of-day profile of legitimate spending: quiet at night, peaks at lunch and early evening.
_HOUR_PROFILE = np.array(
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
_FRAUD_ORIGIN_COUNTRIES = ("NG", "BR", "TH", "TR", "US")
_SECONDS_PER_DAY = 86_400
_US_PER_SECOND = 1_000_000

_CAT = {name: i for i, name in enumerate(MERCHANT_CATEGORIES)}
_CHANNEL_BY_ONLINE = ("in_store", "online")
"""``channel`` by the ``online`` flag: 0 in store, 1 online."""
_COUNTRY = {name: i for i, name in enumerate(COUNTRIES)}


def _index(names: tuple[str, ...], lookup: dict[str, int]) -> np.ndarray:
    return np.array([lookup[name] for name in names])


def _choice_rows(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """Sample one column index per row from rows of cumulative probabilities."""
    draws = rng.random(cumulative.shape[0])[:, None]
    return np.minimum((cumulative < draws).sum(axis=1), cumulative.shape[1] - 1)


def _expand_events(
    rng: np.random.Generator, n_events: int, low: int, high: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give each event ``low..high`` transactions.

    Returns:
        Per transaction: the event it belongs to and its position in the event; per event: size.
    """
    sizes = rng.integers(low, high + 1, size=n_events)
    event = np.repeat(np.arange(n_events), sizes)
    starts = np.cumsum(sizes) - sizes
    position = np.arange(event.size) - starts[event]
    return event, position, sizes


def _offsets_within_events(
    rng: np.random.Generator, event: np.ndarray, position: np.ndarray, low_s: float, high_s: float
) -> np.ndarray:
    """Seconds from an event's first transaction, with gaps drawn in ``[low_s, high_s]``."""
    gaps = rng.uniform(low_s, high_s, size=event.size)
    gaps[position == 0] = 0.0
    total = np.cumsum(gaps)
    first = total[position == 0]
    return total - first[event]


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
    weights = np.sqrt(_CATEGORY_WEIGHT) / np.sqrt(_CATEGORY_WEIGHT).sum()
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


_PATTERN_SHARES = {"account_takeover": 0.35, "card_testing": 0.25, "cloned_card": 0.2, "night": 0.2}


def _fraud_counts(n_fraud: int) -> dict[str, int]:
    """``n_fraud`` transactions split between the known patterns."""
    counts = {name: int(n_fraud * share) for name, share in _PATTERN_SHARES.items()}
    counts["account_takeover"] += n_fraud - sum(counts.values())
    return counts


def _pattern(
    rng: np.random.Generator,
    n_tx: int,
    size: tuple[int, int],
    gap_s: tuple[float, float],
    span_s: float,
    activity: np.ndarray,
    after_s: float,
) -> dict[str, np.ndarray]:
    """Lay out ``n_tx`` transactions of one fraud pattern in events of ``size`` transactions,
    the events starting from ``after_s`` seconds on."""
    mean_size = (size[0] + size[1]) / 2
    n_events = max(int(np.ceil(n_tx / mean_size * 1.3)), 1)
    event, position, sizes = _expand_events(rng, n_events, *size)
    event, position = event[:n_tx], position[:n_tx]
    victims = rng.choice(activity.size, size=n_events, p=activity / activity.sum())
    starts = rng.uniform(after_s, span_s - _SECONDS_PER_DAY, size=n_events)
    seconds = starts[event] + _offsets_within_events(rng, event, position, *gap_s)
    return {
        "customer": victims[event],
        "seconds": np.minimum(seconds, span_s - 1),
        "position": position,
        "event_size": sizes[event],
    }


def _relative_amount(
    rng: np.random.Generator, customers: pd.DataFrame, customer: np.ndarray, lift: float, sd: float
) -> np.ndarray:
    """Fraud amounts above the victim's own habits: ``lift`` log-units over their usual level."""
    usual = customers["mean_log_amount"].to_numpy()[customer]
    return rng.lognormal(usual + lift, sd)


def _fraud_transactions(
    rng: np.random.Generator,
    customers: pd.DataFrame,
    n_fraud: int,
    span_s: float,
    *,
    after_s: float = 0.0,
) -> dict[str, np.ndarray]:
    """``n_fraud`` transactions of the known patterns as column arrays (customer as a row index
    into ``customers``), their events starting from ``after_s`` seconds on."""
    counts = _fraud_counts(n_fraud)
    activity = customers["activity"].to_numpy()
    risky_online = _index(("electronics", "gift_cards", "crypto", "online_retail", "jewelry"), _CAT)
    testing = _index(("online_retail", "gift_cards", "entertainment"), _CAT)
    cloned = _index(("electronics", "jewelry", "clothing", "travel"), _CAT)
    night = _index(("gambling", "crypto", "jewelry", "gift_cards"), _CAT)
    origins = _index(_FRAUD_ORIGIN_COUNTRIES, _COUNTRY)
    parts = []

    # Account takeover: a burst of online purchases, minutes apart.
    ato = _pattern(rng, counts["account_takeover"], (3, 8), (60, 600), span_s, activity, after_s)
    n = ato["customer"].size
    abroad = rng.random(n) < 0.7
    ato.update(
        category=rng.choice(risky_online, size=n),
        online=np.ones(n, dtype=bool),
        amount=_relative_amount(rng, customers, ato["customer"], 1.6, 0.6),
        abroad=abroad,
        country=rng.choice(origins, size=n),
        distance=np.where(abroad, rng.uniform(800, 9_000, size=n), rng.uniform(5, 300, size=n)),
        new_device=np.ones(n, dtype=bool),
    )
    parts.append(ato)

    # Card testing: tiny amounts within minutes, then one or two large ones.
    ct = _pattern(rng, counts["card_testing"], (4, 8), (20, 240), span_s, activity, after_s)
    n = ct["customer"].size
    large = ct["position"] >= ct["event_size"] - rng.integers(1, 3, size=n)
    abroad = rng.random(n) < 0.5
    ct.update(
        category=rng.choice(testing, size=n),
        online=np.ones(n, dtype=bool),
        amount=np.where(
            large,
            _relative_amount(rng, customers, ct["customer"], 2.0, 0.5),
            rng.uniform(0.5, 3.0, size=n),
        ),
        abroad=abroad,
        country=rng.choice(origins, size=n),
        distance=np.where(abroad, rng.uniform(800, 9_000, size=n), rng.uniform(5, 300, size=n)),
        new_device=rng.random(n) < 0.5,
    )
    parts.append(ct)

    # Cloned card: in-store, card present, far from home, a few hours apart.
    cc = _pattern(rng, counts["cloned_card"], (1, 3), (600, 7_200), span_s, activity, after_s)
    n = cc["customer"].size
    cc.update(
        category=rng.choice(cloned, size=n),
        online=np.zeros(n, dtype=bool),
        amount=_relative_amount(rng, customers, cc["customer"], 1.2, 0.6),
        abroad=np.ones(n, dtype=bool),
        country=rng.choice(origins, size=n),
        distance=rng.uniform(1_000, 9_000, size=n),
        new_device=np.zeros(n, dtype=bool),
    )
    parts.append(cc)

    # Risky categories at night: the event is moved to between midnight and 6 am.
    nt = _pattern(rng, counts["night"], (1, 2), (60, 1_800), span_s, activity, after_s)
    n = nt["customer"].size
    day_start = np.floor(nt["seconds"] / _SECONDS_PER_DAY) * _SECONDS_PER_DAY
    nt["seconds"] = np.clip(
        day_start + rng.uniform(0, 6 * 3_600, size=n) + nt["position"] * 600, after_s, span_s - 1
    )
    online = rng.random(n) < 0.8
    nt.update(
        category=rng.choice(night, size=n),
        online=online,
        amount=_relative_amount(rng, customers, nt["customer"], 1.4, 0.6),
        abroad=np.zeros(n, dtype=bool),
        country=np.full(n, -1),
        distance=np.where(online, rng.uniform(1, 50, size=n), rng.uniform(1, 40, size=n)),
        new_device=rng.random(n) < 0.3,
    )
    parts.append(nt)

    keys = ("customer", "seconds", "category", "online", "amount", "abroad", "country")
    fraud = {key: np.concatenate([part[key] for part in parts]) for key in keys}
    fraud["distance"] = np.concatenate([part["distance"] for part in parts])
    fraud["new_device"] = np.concatenate([part["new_device"] for part in parts])
    return fraud


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
    span_days = int(np.ceil(span_s / _SECONDS_PER_DAY))
    day = rng.integers(0, span_days, size=n)
    # Night owls (shift workers, gamers) spend late at night, much of it in risky categories.
    night_owl = customers["night_owl"].to_numpy()[customer]
    late = np.roll(_HOUR_PROFILE, -9)
    hour = np.where(
        night_owl,
        rng.choice(24, size=n, p=late / late.sum()),
        rng.choice(24, size=n, p=_HOUR_PROFILE / _HOUR_PROFILE.sum()),
    )
    seconds = np.minimum(
        day * _SECONDS_PER_DAY + hour * 3_600 + rng.uniform(0, 3_600, size=n), span_s - 1
    )
    drift_from = params.drift.start * span_s
    drifted = seconds >= drift_from if params.drift.scenario != DriftScenario.NONE else None

    # Each customer has their own category tastes around the population's.
    taste = _CATEGORY_WEIGHT * rng.lognormal(0.0, 0.6, size=(activity.size, _CATEGORY_WEIGHT.size))
    night_taste = np.ones(_CATEGORY_WEIGHT.size)
    night_taste[_index(("gambling", "crypto", "entertainment", "gift_cards"), _CAT)] = 8.0
    taste = np.where(customers["night_owl"].to_numpy()[:, None], taste * night_taste, taste)
    category = np.empty(n, dtype=np.int64)
    shifted = np.zeros(n, dtype=bool)
    if drifted is not None and params.drift.scenario == DriftScenario.NEW_MERCHANT_MIX:
        shifted = drifted
    for rows, weights in ((~shifted, taste), (shifted, taste * _merchant_mix_shift(params))):
        if rows.any():
            cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
            category[rows] = _choice_rows(rng, cumulative[customer[rows]])

    online_share = customers["online_share"].to_numpy()[customer]
    p_online = np.clip(_CATEGORY_ONLINE[category] * (0.4 + 1.2 * online_share), 0.0, 1.0)
    if shifted.any():
        p_online[shifted] = np.clip(p_online[shifted] * params.drift.strength, 0.0, 1.0)
    online = rng.random(n) < p_online

    trip_start = customers["trip_start_day"].to_numpy()[customer] * _SECONDS_PER_DAY
    trip_end = customers["trip_end_day"].to_numpy()[customer] * _SECONDS_PER_DAY
    abroad = (seconds >= trip_start) & (seconds < trip_end)
    trip_country = customers["trip_country"].map(_COUNTRY).to_numpy()[customer]
    trip_distance = customers["trip_distance_km"].to_numpy()[customer]
    local = np.where(
        online, rng.lognormal(np.log(2.0), 1.0, size=n), rng.lognormal(np.log(5.0), 0.9, size=n)
    )
    distance = np.where(abroad, trip_distance * rng.uniform(0.97, 1.03, size=n) + local, local)

    mean_log = customers["mean_log_amount"].to_numpy()[customer]
    amount = rng.lognormal(mean_log + _CATEGORY_LOG_AMOUNT[category], 0.8)
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


_CAMPAIGN_SHARE = 0.5
"""The new campaign's part of a fraud surge's extra fraud; the known patterns make the rest."""
_CAMPAIGN_MIN_AGE = 65
_CAMPAIGN_OLDER_VICTIMS = 0.8
"""Share of the campaign's victims aged ``_CAMPAIGN_MIN_AGE`` or more; the rest are anyone."""


def _new_campaign(
    rng: np.random.Generator, customers: pd.DataFrame, n_tx: int, span_s: float, after_s: float
) -> dict[str, np.ndarray]:
    """``n_tx`` transactions of a fraud campaign the training period never saw, from ``after_s``.

    Account takeover by phishing, aimed at older customers: the fraudster logs in to the
    victim's account from a device of their own and spends as the victim would, online in
    everyday categories, at the victim's usual amounts, in the day, through a proxy near the
    victim's home, a few purchases a few hours apart. Nothing a known pattern shows (large or
    tiny amounts, bursts within minutes, night, risky categories, distance): the victims' age
    and a device that is not theirs are all that tells these apart.
    """
    activity = customers["activity"].to_numpy()
    older = np.flatnonzero(customers["age"].to_numpy() >= _CAMPAIGN_MIN_AGE)
    n_events = max(int(np.ceil(n_tx / 2.5 * 1.3)), 1)
    event, position, _ = _expand_events(rng, n_events, 1, 4)
    event, position = event[:n_tx], position[:n_tx]
    anyone = rng.choice(activity.size, size=n_events, p=activity / activity.sum())
    if older.size:
        weight = activity[older] / activity[older].sum()
        victims = np.where(
            rng.random(n_events) < _CAMPAIGN_OLDER_VICTIMS,
            older[rng.choice(older.size, size=n_events, p=weight)],
            anyone,
        )
    else:
        victims = anyone
    # Each event starts in the day (the hours legitimate spending keeps), on a day after the start.
    first_day = int(np.ceil(after_s / _SECONDS_PER_DAY))
    last_day = max(int(span_s // _SECONDS_PER_DAY) - 1, first_day)
    day = rng.integers(first_day, last_day + 1, size=n_events)
    hour = rng.choice(24, size=n_events, p=_HOUR_PROFILE / _HOUR_PROFILE.sum())
    starts = day * _SECONDS_PER_DAY + hour * 3_600 + rng.uniform(0, 3_600, size=n_events)
    seconds = starts[event] + _offsets_within_events(rng, event, position, 3_600, 5 * 3_600)
    customer = victims[event]
    n = customer.size
    everyday_online = _CATEGORY_WEIGHT * _CATEGORY_ONLINE
    category = rng.choice(everyday_online.size, size=n, p=everyday_online / everyday_online.sum())
    mean_log = customers["mean_log_amount"].to_numpy()[customer]
    return {
        "customer": customer,
        "seconds": np.clip(seconds, after_s, span_s - 1),
        "category": category,
        "online": np.ones(n, dtype=bool),
        "amount": rng.lognormal(mean_log + _CATEGORY_LOG_AMOUNT[category], 0.8),
        "abroad": np.zeros(n, dtype=bool),
        "country": np.full(n, -1),
        "distance": rng.lognormal(np.log(2.0), 1.0, size=n),
        "new_device": rng.random(n) < 0.8,
    }


def _fraud_surge(
    params: GenerationParams,
    customers: pd.DataFrame,
    seconds: np.ndarray,
    n_base_fraud: int,
    span_s: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ``fraud_surge`` drift: which legitimate transactions after the start give their place
    to fraud, and that fraud's columns.

    The surge takes the place of legitimate transactions (the volume stays ``n_transactions``)
    and draws from a generator of its own, so the data before ``drift.start`` is the data the
    scenario ``none`` draws, byte for byte. After it, fraud is ``drift.strength`` times as
    frequent: half the extra is more of the known patterns, half the new campaign.

    Args:
        params: Generator knobs.
        customers: Output of :func:`generate_customers`.
        seconds: Time of each legitimate transaction, in seconds since ``start_date``.
        n_base_fraud: Fraud transactions of the known patterns over the whole period.
        span_s: Length of the period in seconds.

    Returns:
        The rows replaced (indices into ``seconds``), and their new columns in that order.
    """
    rng = np.random.default_rng([params.seed, 4])
    after_s = params.drift.start * span_s
    extra = max(params.drift.strength - 1.0, 0.0) * n_base_fraud * (span_s - after_s) / span_s
    candidates = np.flatnonzero(seconds >= after_s)
    n_known = min(round(extra * (1 - _CAMPAIGN_SHARE)), candidates.size)
    n_new = min(round(extra * _CAMPAIGN_SHARE), candidates.size - n_known)
    if after_s >= span_s - _SECONDS_PER_DAY or n_known + n_new == 0:
        return np.array([], dtype=np.int64), {}
    parts = [
        _fraud_transactions(rng, customers, n_known, span_s, after_s=after_s),
        _new_campaign(rng, customers, n_new, span_s, after_s),
    ]
    surge = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    rows = rng.choice(candidates, size=surge["customer"].size, replace=False)
    return rows, surge


def _merchant_mix_shift(params: GenerationParams) -> np.ndarray:
    """Category multipliers of the ``new_merchant_mix`` drift."""
    shift = np.ones(len(MERCHANT_CATEGORIES))
    favoured = _index(("online_retail", "electronics", "crypto", "gift_cards"), _CAT)
    shift[favoured] = params.drift.strength**3
    return shift


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
    span_s = float((params.end_date - params.start_date).days * _SECONDS_PER_DAY)
    fraud = _fraud_transactions(
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
        surge_rows, surge = _fraud_surge(params, customers, legit["seconds"], n_fraud, span_s)
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
    home = customers["home_country"].map(_COUNTRY).to_numpy()[customer]
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

    merchant_id = _pick_merchants(rng, merchants, drawn_category)
    if surge_rows.size:
        surge_rng = np.random.default_rng([params.seed, 5])
        merchant_id[surge_rows] = _pick_merchants(surge_rng, merchants, surge["category"])
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


def _pick_merchants(
    rng: np.random.Generator, merchants: pd.DataFrame, category: np.ndarray
) -> np.ndarray:
    """A merchant of the right category for each transaction."""
    merchant_category = merchants["merchant_category"].map(_CAT).to_numpy()
    merchant_ids = merchants["merchant_id"].to_numpy()
    picked = np.empty(category.size, dtype=np.int64)
    for cat in range(len(MERCHANT_CATEGORIES)):
        rows = np.flatnonzero(category == cat)
        pool = merchant_ids[merchant_category == cat]
        picked[rows] = pool[rng.integers(0, pool.size, size=rows.size)]
    return picked
