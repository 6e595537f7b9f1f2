"""The generator's knobs: sizes, dates, fraud rate, label noise and the drift scenario."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fraud_detection.domain import MERCHANT_CATEGORIES

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
    known patterns, half a new campaign the training period never saw (``new_campaign``). A
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
