"""Drift scenarios that change what the data is after ``drift.start``.

``new_merchant_mix`` (a shift of the categories' weights) and ``fraud_surge`` (more of the known
fraud beside a new campaign, drawn from generators of their own so the data before the start is
the scenario ``none``'s); ``amount_inflation`` is a multiplication, done where amounts are made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud_detection.domain import MERCHANT_CATEGORIES

from .fraud import expand_events, fraud_transactions, offsets_within_events
from .params import GenerationParams
from .world import (
    CAT,
    CATEGORY_LOG_AMOUNT,
    CATEGORY_ONLINE,
    CATEGORY_WEIGHT,
    HOUR_PROFILE,
    SECONDS_PER_DAY,
    index,
)

_CAMPAIGN_SHARE = 0.5
"""The new campaign's part of a fraud surge's extra fraud; the known patterns make the rest."""
_CAMPAIGN_MIN_AGE = 65
_CAMPAIGN_OLDER_VICTIMS = 0.8
"""Share of the campaign's victims aged ``_CAMPAIGN_MIN_AGE`` or more; the rest are anyone."""


def new_campaign(
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
    event, position, _ = expand_events(rng, n_events, 1, 4)
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
    first_day = int(np.ceil(after_s / SECONDS_PER_DAY))
    last_day = max(int(span_s // SECONDS_PER_DAY) - 1, first_day)
    day = rng.integers(first_day, last_day + 1, size=n_events)
    hour = rng.choice(24, size=n_events, p=HOUR_PROFILE / HOUR_PROFILE.sum())
    starts = day * SECONDS_PER_DAY + hour * 3_600 + rng.uniform(0, 3_600, size=n_events)
    seconds = starts[event] + offsets_within_events(rng, event, position, 3_600, 5 * 3_600)
    customer = victims[event]
    n = customer.size
    everyday_online = CATEGORY_WEIGHT * CATEGORY_ONLINE
    category = rng.choice(everyday_online.size, size=n, p=everyday_online / everyday_online.sum())
    mean_log = customers["mean_log_amount"].to_numpy()[customer]
    return {
        "customer": customer,
        "seconds": np.clip(seconds, after_s, span_s - 1),
        "category": category,
        "online": np.ones(n, dtype=bool),
        "amount": rng.lognormal(mean_log + CATEGORY_LOG_AMOUNT[category], 0.8),
        "abroad": np.zeros(n, dtype=bool),
        "country": np.full(n, -1),
        "distance": rng.lognormal(np.log(2.0), 1.0, size=n),
        "new_device": rng.random(n) < 0.8,
    }


def fraud_surge(
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
    if after_s >= span_s - SECONDS_PER_DAY or n_known + n_new == 0:
        return np.array([], dtype=np.int64), {}
    parts = [
        fraud_transactions(rng, customers, n_known, span_s, after_s=after_s),
        new_campaign(rng, customers, n_new, span_s, after_s),
    ]
    surge = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    rows = rng.choice(candidates, size=surge["customer"].size, replace=False)
    return rows, surge


def merchant_mix_shift(params: GenerationParams) -> np.ndarray:
    """Category multipliers of the ``new_merchant_mix`` drift."""
    shift = np.ones(len(MERCHANT_CATEGORIES))
    favoured = index(("online_retail", "electronics", "crypto", "gift_cards"), CAT)
    shift[favoured] = params.drift.strength**3
    return shift
