"""The error tree's shared parts: one "did you mean" for every mistyped name."""

from __future__ import annotations

import pytest

from lab2prod.errors import did_you_mean

HINTS = [
    (("transactons", ["transactions", "labels"]), {}, "did you mean 'transactions'?"),
    (
        ("learn_rate", ["learning_rate", "learn_rates", "depth"]),
        {},
        "did you mean 'learn_rates' or 'learning_rate'?",
    ),
    (("learn_rate", ["learning_rate", "learn_rates"]), {"n": 1}, "did you mean 'learn_rates'?"),
    (("dask.retry-2", ["dask.retries-2"]), {"sentence": True}, "Did you mean 'dask.retries-2'?"),
    (("order", ["orders"]), {"sentence": True, "code": True}, "Did you mean `orders`?"),
    (("zzz", ["transactions"]), {}, ""),
    (("x", []), {}, ""),
]


@pytest.mark.parametrize(("arguments", "options", "hint"), HINTS)
def test_did_you_mean_names_the_closest_candidates_or_nothing(arguments, options, hint):
    """Closest first, quoted as Python quotes them, joined by "or"; empty when none is close."""
    assert did_you_mean(*arguments, **options) == hint
