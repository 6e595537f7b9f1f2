"""Scoring merged batches of requests with a compiled inference pipeline, and loading it once.

- :class:`BatchScorer`: one call per merged batch: columns (or validated records) to a typed
  frame, the contract's remaining checks, the compiled pipeline; a :class:`RowResult` per
  record, its prediction or why it cannot have one.
- :func:`load_scorer`: the packaged model, checked against the code serving it (request schema,
  pipeline), compiled once at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lab2prod.errors import ModelMismatchError
from lab2prod.monitoring.columns import columns_of
from lab2prod.serving.batching import ColumnBatch
from lab2prod.serving.frames import ContractBatch, RowError
from lab2prod.serving.recording import REQUEST_ID

if TYPE_CHECKING:
    import pandas as pd
    from pydantic import BaseModel

    from lab2prod.serving.compiled import CompiledPipeline
    from lab2prod.threadpools import ThreadPoolLimit

__all__ = ["BatchScorer", "RowResult", "load_scorer", "project_pipeline"]


@dataclass(slots=True)
class RowResult:
    """The outcome for one record: its prediction, or why it cannot have one.

    Not frozen: a batch makes one per record, and a frozen dataclass's ``__init__`` costs half
    again as much (0.9 against 0.6 ms for 1,000).
    """

    model: str
    prediction: Mapping[str, Any] | None = None
    errors: tuple[RowError, ...] = ()


class BatchScorer:
    """Scores a merged batch of validated records with the compiled inference pipeline.

    Args:
        compiled: The inference pipeline, compiled with the packaged model bound.
        batch: Builds the typed frame and runs the contract's remaining checks.
        tag: The model's BentoML tag, returned with every prediction.
        prediction_fields: The output columns returned for each record, in order.
        threads: The worker's native thread pool limit (:func:`limit_worker_threads`), which
            each thread that scores is held to.
        package: The model package the pipeline was compiled from, if any.

    Attributes:
        on_scored: Called with each scored batch: the typed inputs (the frame, or the
            mapping of column name to array it was built from), the pipeline's outputs (a
            mapping of column name to array, row for row) and the request id of each row (a
            batch column ``request_id``, else ``None``); what a service records
            (:func:`lab2prod.serving.recording.start_recording`). It must not block, nor
            change what it is given.
    """

    on_scored: (
        Callable[[pd.DataFrame | Mapping[str, Any], Mapping[str, Any], Sequence[str] | None], None]
        | None
    ) = None

    def __init__(
        self,
        compiled: CompiledPipeline,
        batch: ContractBatch,
        *,
        tag: str,
        prediction_fields: Sequence[str],
        threads: ThreadPoolLimit | None = None,
        package: Any = None,
    ) -> None:
        if len(compiled.inputs) != 1 or len(compiled.outputs) != 1:
            raise ValueError(
                f"A BatchScorer needs a pipeline with one input and one output, got "
                f"{compiled.inputs} -> {compiled.outputs}"
            )
        self.compiled = compiled
        self.batch = batch
        self.tag = tag
        self.prediction_fields = tuple(prediction_fields)
        self.threads = threads
        self.package = package

    def __call__(self, records: Sequence[BaseModel] | ColumnBatch) -> list[RowResult]:
        """Score ``records``; a record that breaks the contract gets its errors instead.

        One frame and one pipeline call for the whole batch, however many requests it merges.

        Args:
            records: Validated request records, or the batch's columns (what the request
                models of :func:`batch_request` with a contract give, merged by BentoML).
        """
        if self.threads is not None:
            self.threads.enter_thread()
        request_ids = columns = None
        if isinstance(records, ColumnBatch):
            columns = self.batch.typed_columns(records.columns)
            frame, errors = self.batch.from_columns(columns, len(records)), []
            request_ids = records.columns.get(REQUEST_ID)
        else:
            frame, errors = self.batch.frame(records)
        errors += self.batch.check(frame)
        if not errors:  # the common case: every record scored, in order
            return [
                RowResult(
                    self.tag, prediction=dict(zip(self.prediction_fields, values, strict=True))
                )
                for values in self._predict(frame, request_ids, columns=columns)
            ]
        # Some records break the contract: their request gets a 422, the batch's others their
        # predictions. Only what is answered is recorded (by request id, when known).
        by_row: dict[int, list[RowError]] = {}
        for error in errors:
            by_row.setdefault(error.row, []).append(error)
        good = frame.drop(index=list(by_row))
        results = [RowResult(self.tag, errors=tuple(by_row.get(i, ()))) for i in range(len(frame))]
        if len(good):
            answered = None
            if request_ids is not None:
                refused = {request_ids[row] for row in by_row}
                answered = [request_ids[i] not in refused for i in good.index]
            for row, values in zip(
                good.index, self._predict(good, request_ids, answered), strict=True
            ):
                results[row] = RowResult(
                    self.tag, prediction=dict(zip(self.prediction_fields, values, strict=True))
                )
        return results

    def _predict(
        self,
        frame: pd.DataFrame,
        request_ids: Sequence[str] | None = None,
        answered: list[bool] | None = None,
        *,
        columns: Mapping[str, Any] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """The prediction fields of each row of ``frame``, as Python values.

        ``on_scored`` gets every row, with ``request_ids`` as they are (the inputs as
        ``columns`` when given: the arrays the frame was built from), or, with ``answered`` (a
        flag per row), the rows flagged, with their ids looked up by the frame's index; the
        outputs as arrays, taken out of the output frame once for the answer and the record
        (pandas takes ~10 µs per column out of a frame: a recorder taking them again, on its
        own thread, would hold the worker's GIL as long).
        """
        (output,) = self.compiled(**{self.compiled.inputs[0]: frame}).values()
        if self.on_scored is None:
            return zip(*(output[name].tolist() for name in self.prediction_fields), strict=True)
        outputs = columns_of(output)
        if answered is None:
            self.on_scored(frame if columns is None else columns, outputs, request_ids)
        elif any(answered):
            keep = np.asarray(answered)
            ids = [request_ids[i] for i, k in zip(frame.index, answered, strict=True) if k]
            self.on_scored(frame[keep], {name: v[keep] for name, v in outputs.items()}, ids)
        return zip(*(outputs[name].tolist() for name in self.prediction_fields), strict=True)


def load_scorer(
    model: Any,
    *,
    project: str,
    request_model: type[BaseModel],
    contract: Any,
    request_input: str,
    output: str,
    prediction_fields: Sequence[str],
    threads: ThreadPoolLimit | None = None,
) -> BatchScorer:
    """Load a packaged model and compile its inference pipeline, once, at service start-up.

    Args:
        model: The BentoML model (``bentoml.models.BentoModel`` attribute of the service, or a
            tag).
        project: The Kedro project package whose registry names the pipeline.
        request_model: The pydantic model of one request record the service validates with.
        contract: The pandera contract it was derived from.
        request_input: The pipeline input a batch of requests is (``scoring_input``).
        output: The pipeline output that holds the predictions.
        prediction_fields: The output columns returned.
        threads: The worker's native thread pool limit, from :func:`limit_worker_threads`
            (called before this, so that the model's libraries load limited).

    Returns:
        The scorer.

    Raises:
        ModelMismatchError: If the model was packaged for another request schema, or the
            project registers no pipeline of the package's name.
    """
    from lab2prod.serving.compiled import compile_pipeline
    from lab2prod.serving.package import read_package

    package = read_package(model)
    tag = str(package.tag)
    served = request_model.model_json_schema()
    if package.request_schema is not None and _canonical(package.request_schema) != _canonical(
        served
    ):
        raise ModelMismatchError(
            f"Model {tag} was trained for another request than {request_model.__name__} "
            f"describes (its schema at packaging differs from the served one): the features "
            "could be computed from data the model never saw. Serve it with the code it was "
            "trained with, or retrain.",
            tag=tag,
        )
    compiled = compile_pipeline(
        project_pipeline(project, package.pipeline, tag=tag),
        inputs=[request_input],
        outputs=[output],
        data=package.data,
        parameters=package.parameters,
    )
    return BatchScorer(
        compiled,
        ContractBatch(contract),
        tag=tag,
        prediction_fields=prediction_fields,
        threads=threads,
        package=package,
    )


def project_pipeline(project: str, name: str, *, tag: str) -> Any:
    """The pipeline ``name`` of Kedro project ``project``, loaded without a session.

    Only that pipeline's package is imported (Kedro's ``set_requested``), and Kedro's logging
    set-up leaves the server's alone.
    """
    from kedro.framework.project import configure_project, pipelines

    configure_project(project, preserve_logging=True)
    pipelines.set_requested([name])
    try:
        return pipelines[name]
    except (KeyError, ImportError) as exc:
        # The project's registry raises ImportError for a requested pipeline it cannot find.
        raise ModelMismatchError(
            f"Model {tag} runs the pipeline {name!r}, which project {project!r} cannot "
            f"provide ({exc}); serve it with the code it was trained with",
            tag=tag,
        ) from exc


def _canonical(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)
