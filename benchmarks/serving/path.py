"""The service's own path per request, in-process: JSON body -> columns -> scorer -> JSON body.

Run with ``.venv/bin/python benchmarks/serving/path.py [--seconds 5]`` once ``bench.py`` (or
``soak.py``) has packaged a model in ``benchmarks/.work/serving``. It times what one worker does
for a request of 1 and of 1,000 transactions, without HTTP, adaptive batching or the load
generator (one core, OpenMP and BLAS limited to one thread, as in a worker): the request model's
fast path (``ColumnarReader``), the scorer (contract checks and the compiled pipeline), and the
response model's body. Prints one JSON line; compare two versions of the code by running it
on each (a refactoring must not make these slower).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import WORK  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per figure")
    parser.add_argument("--project", type=Path, default=WORK / "serving")
    args = parser.parse_args(argv)
    os.environ.setdefault("BENTOML_HOME", str(args.project / "bentoml"))
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"

    from lab2prod.threadpools import ThreadPoolLimit

    # As a worker does, before the model (and OpenMP with it) loads.
    ThreadPoolLimit(1).apply()
    from fraud_detection import service
    from fraud_detection.request import TransactionRequest
    from fraud_detection.schemas import ScoringRequest
    from lab2prod.serving import api

    scorer = api.load_scorer(
        service.MODEL_TAG,
        project="fraud_detection",
        request_model=TransactionRequest,
        contract=ScoringRequest,
        request_input="scoring_input",
        output="predictions",
        prediction_fields=list(service.Prediction.model_fields),
    )
    bodies = {
        "single": (args.project / "single.jsonl").read_text().splitlines()[0].encode(),
        "batch_1000": (args.project / "batches.jsonl").read_text().splitlines()[0].encode(),
    }
    loop = asyncio.new_event_loop()
    reader = service.PredictRequest.reader
    rates = {}
    for name, body in bodies.items():
        columns = reader.read(body)
        assert columns is not None, "the fast path refused the benchmark's body"
        length = len(next(iter(columns.values())))

        def request(body: bytes = body, length: int = length) -> bytes:
            batch = api.ColumnBatch(reader.read(body), length)
            rows = scorer(batch)
            response = loop.run_until_complete(service.PredictResponse.to_http_response(rows, None))
            return response.body

        rates[f"{name}_requests_per_s"] = _rate(request, args.seconds)
        rates[f"{name}_response_bytes"] = len(request())
    rows = scorer(api.ColumnBatch(reader.read(bodies["batch_1000"]), 1000))
    rates["response_only_1000_per_s"] = _rate(
        lambda: loop.run_until_complete(service.PredictResponse.to_http_response(rows, None)),
        args.seconds,
    )
    print(json.dumps(rates))
    return 0


def _rate(call, seconds: float) -> float:
    call()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())
