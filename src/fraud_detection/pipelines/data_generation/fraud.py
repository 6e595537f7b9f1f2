"""The four known fraud patterns, laid out as events of transactions.

- account takeover: a burst of online purchases from a new device, often abroad, in risky
  categories, far above the customer's usual amounts;
- card testing: a few tiny online amounts within minutes, then one or two large ones;
- cloned card: in-store, card present, thousands of kilometres from home;
- risky categories at night: gambling, crypto, jewelry or gift cards between midnight and 6 am.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .world import CAT, COUNTRY, SECONDS_PER_DAY, index

_FRAUD_ORIGIN_COUNTRIES = ("NG", "BR", "TH", "TR", "US")


def expand_events(
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


def offsets_within_events(
    rng: np.random.Generator, event: np.ndarray, position: np.ndarray, low_s: float, high_s: float
) -> np.ndarray:
    """Seconds from an event's first transaction, with gaps drawn in ``[low_s, high_s]``."""
    gaps = rng.uniform(low_s, high_s, size=event.size)
    gaps[position == 0] = 0.0
    total = np.cumsum(gaps)
    first = total[position == 0]
    return total - first[event]


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
    event, position, sizes = expand_events(rng, n_events, *size)
    event, position = event[:n_tx], position[:n_tx]
    victims = rng.choice(activity.size, size=n_events, p=activity / activity.sum())
    starts = rng.uniform(after_s, span_s - SECONDS_PER_DAY, size=n_events)
    seconds = starts[event] + offsets_within_events(rng, event, position, *gap_s)
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


def fraud_transactions(
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
    risky_online = index(("electronics", "gift_cards", "crypto", "online_retail", "jewelry"), CAT)
    testing = index(("online_retail", "gift_cards", "entertainment"), CAT)
    cloned = index(("electronics", "jewelry", "clothing", "travel"), CAT)
    night = index(("gambling", "crypto", "jewelry", "gift_cards"), CAT)
    origins = index(_FRAUD_ORIGIN_COUNTRIES, COUNTRY)
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
    day_start = np.floor(nt["seconds"] / SECONDS_PER_DAY) * SECONDS_PER_DAY
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
