"""What a BentoML service needs around a compiled inference pipeline, under one name.

A service imports this module (``from lab2prod.serving import api``); each name lives in the
module of its concern:

- ``routes``: :func:`batch_request` / :func:`batch_response`, the request and response models of
  a scoring route (:class:`ColumnBatch`, from ``batching``, is what the route receives);
- ``scorer``: :class:`BatchScorer`, :class:`RowResult`, :func:`load_scorer`;
- ``openapi``: :class:`ContractService`, the spec with the real error bodies;
- ``runtime``: :func:`limit_worker_threads`, :func:`limit_request_head_time`,
  :func:`score_large_requests_at_once`, :func:`pinned_tag`, :func:`freeze_startup_heap`,
  :func:`log_client_errors_briefly`, :func:`env_int`, :func:`env_switch`;
- ``recording``: :func:`start_recording`, the prediction log and live drift of a worker;
- ``supply``: :class:`ProvenancedModel`, the model reference ``bentoml build`` packs only with
  its provenance.

This module imports BentoML: services import it, ``kedro`` never does.
"""

from __future__ import annotations

from lab2prod.serving.batching import ColumnBatch
from lab2prod.serving.openapi import ContractService, ErrorBody, ErrorItem
from lab2prod.serving.recording import Recorder, start_recording
from lab2prod.serving.routes import batch_request, batch_response
from lab2prod.serving.runtime import (
    env_int,
    env_switch,
    freeze_startup_heap,
    limit_request_head_time,
    limit_worker_threads,
    log_client_errors_briefly,
    pinned_tag,
    score_large_requests_at_once,
)
from lab2prod.serving.scorer import BatchScorer, RowResult, load_scorer, project_pipeline
from lab2prod.serving.supply import ProvenancedModel

__all__ = [
    "BatchScorer",
    "ColumnBatch",
    "ContractService",
    "ErrorBody",
    "ErrorItem",
    "ProvenancedModel",
    "Recorder",
    "RowResult",
    "batch_request",
    "batch_response",
    "env_int",
    "env_switch",
    "freeze_startup_heap",
    "limit_request_head_time",
    "limit_worker_threads",
    "load_scorer",
    "log_client_errors_briefly",
    "pinned_tag",
    "project_pipeline",
    "score_large_requests_at_once",
    "start_recording",
]
