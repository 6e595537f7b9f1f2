"""The serving request, derived from the training contract (``schemas.ScoringRequest``).

Change a column's type, range or categories in ``schemas.py`` and the request follows: there is
no second description of a transaction to keep in step.
"""

from __future__ import annotations

from fraud_detection.schemas import ScoringRequest
from lab2prod.contracts.request import request_model

EXAMPLE_TRANSACTION = {
    "transaction_id": "tx0000012345",
    "timestamp": "2026-03-14T21:07:45",
    "customer_id": 104217,
    "customer_age": 37,
    "account_age_days": 1412,
    "amount": 129.9,
    "currency": "EUR",
    "merchant_id": 11873,
    "merchant_category": "electronics",
    "channel": "online",
    "card_present": False,
    "distance_from_home_km": 3.2,
    "device": "mobile",
    "country": "NL",
    "tx_count_1h": 1,
    "tx_count_24h": 3,
    "tx_count_7d": 9,
    "amount_sum_1h": 24.5,
    "amount_sum_24h": 71.2,
    "amount_sum_7d": 388.0,
    "prior_tx_count": 57,
    "prior_mean_amount": 42.1,
    "hours_since_prev_tx": 0.4,
}
"""A valid request record (documentation and tests use it)."""

TransactionRequest = request_model(
    ScoringRequest, name="TransactionRequest", examples=[EXAMPLE_TRANSACTION]
)
"""One transaction with its activity aggregates, as ``POST /predict`` receives it."""
