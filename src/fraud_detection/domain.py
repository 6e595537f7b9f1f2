"""The vocabulary of card transactions: the categories every table and request may hold.

One source for the generator, the cleaning step, the features and the data contracts, so a new
category is added in one place.
"""

from __future__ import annotations

MERCHANT_CATEGORIES: tuple[str, ...] = (
    "grocery",
    "restaurant",
    "fuel",
    "transport",
    "pharmacy",
    "clothing",
    "electronics",
    "online_retail",
    "travel",
    "entertainment",
    "gambling",
    "crypto",
    "jewelry",
    "gift_cards",
)
"""Merchant categories, in a fixed order (feature columns follow it)."""

RISKY_CATEGORIES: tuple[str, ...] = ("gambling", "crypto", "jewelry", "gift_cards", "electronics")
"""Categories fraudsters favour: easy to resell or to cash out."""

CHANNELS: tuple[str, ...] = ("in_store", "online")
DEVICES: tuple[str, ...] = ("pos_terminal", "mobile", "desktop", "tablet")
ONLINE_DEVICES: tuple[str, ...] = ("mobile", "desktop", "tablet")

COUNTRY_CURRENCY: dict[str, str] = {
    "NL": "EUR",
    "DE": "EUR",
    "FR": "EUR",
    "BE": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "GB": "GBP",
    "CH": "CHF",
    "PL": "PLN",
    "SE": "SEK",
    "US": "USD",
    "TR": "TRY",
    "TH": "THB",
    "BR": "BRL",
    "NG": "NGN",
}
"""Countries a transaction can happen in, with the currency paid there."""

COUNTRIES: tuple[str, ...] = tuple(COUNTRY_CURRENCY)
CURRENCIES: tuple[str, ...] = tuple(dict.fromkeys(COUNTRY_CURRENCY.values()))

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "customer_age",
    "account_age_days",
    "amount",
    "currency",
    "merchant_id",
    "merchant_category",
    "channel",
    "card_present",
    "distance_from_home_km",
    "device",
    "country",
)
"""Columns describing one transaction, as a request to the service carries them."""

LABEL_COLUMN = "is_fraud"
