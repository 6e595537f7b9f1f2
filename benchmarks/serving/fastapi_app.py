"""The hand-written baseline: a minimal FastAPI app with the same features, model and threshold.

What a data scientist would write without lab2prod or BentoML: the request model from the
contract, one DataFrame per request, the project's ``build_features`` and ``fraud_scores`` on
the packaged model. No batching across requests, no contract checks across fields, no metrics.

    BENTOML_HOME=... FRAUD_DETECTION_MODEL=fraud_detection:latest \
        uvicorn fastapi_app:app --app-dir benchmarks/serving --host 127.0.0.1 --port 3001
"""

from __future__ import annotations

import os

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

from fraud_detection.pipelines.inference.nodes import fraud_scores
from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from fraud_detection.request import TransactionRequest
from lab2prod.serving import read_package

package = read_package(os.environ.get("FRAUD_DETECTION_MODEL", "fraud_detection:latest"))
model = package.artifacts["model"]
threshold = package.inputs["decision_threshold"]
params = FeatureParams(**package.parameters["inference_features"])

app = FastAPI(title="fraud detection (hand-written baseline)")


class PredictRequest(BaseModel):
    transactions: list[TransactionRequest]


@app.post("/predict")
def predict(request: PredictRequest) -> dict:
    frame = pd.DataFrame([t.model_dump() for t in request.transactions])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
    probability = fraud_scores(model, build_features(frame, params))
    return {
        "predictions": [
            {"transaction_id": t, "fraud_probability": float(p), "is_fraud": bool(p >= threshold)}
            for t, p in zip(frame["transaction_id"], probability, strict=True)
        ],
        "model": package.tag,
    }


@app.get("/readyz")
def readyz() -> str:
    return "ok"
