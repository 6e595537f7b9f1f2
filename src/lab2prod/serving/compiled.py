"""A Kedro pipeline compiled once into a plain call sequence over a dict of in-memory data.

A service cannot afford a Kedro session, a catalog and a runner per request, and does not need
them: the inference pipeline's nodes, in the order Kedro sorts them, are called one after the
other on values held in a dict. Everything that does not change between requests (fitted models,
a threshold, the typed parameters) is bound once, at start-up; a call passes only the request's
data and gets the requested outputs back. The node functions are the very ones ``kedro run``
calls, so serving computes exactly what training computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lab2prod.errors import PipelineCompileError, did_you_mean

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

_Step = Callable[[dict[str, Any]], None]


class CompiledPipeline:
    """A pipeline's nodes as a fixed sequence of calls; build it with :func:`compile_pipeline`.

    Calling it runs every node needed for the outputs, in Kedro's order, on the bound data plus
    the call's inputs. It keeps no state between calls and may be called from several threads.
    """

    def __init__(
        self,
        steps: Sequence[_Step],
        *,
        node_names: Sequence[str],
        inputs: Sequence[str],
        outputs: Sequence[str],
        bound: Mapping[str, Any],
    ) -> None:
        self._steps = tuple(steps)
        self._bound = dict(bound)
        self.node_names: tuple[str, ...] = tuple(node_names)
        """The nodes that run, in order."""
        self.inputs: tuple[str, ...] = tuple(inputs)
        """The names a call must pass."""
        self.outputs: tuple[str, ...] = tuple(outputs)
        """The names a call returns."""

    def __call__(self, **data: Any) -> dict[str, Any]:
        """Run the nodes on the bound data and ``data``.

        Args:
            **data: A value for each of :attr:`inputs`, by dataset name.

        Returns:
            The value of each of :attr:`outputs`, by dataset name.

        Raises:
            PipelineCompileError: If ``data`` does not hold exactly the pipeline's inputs.
        """
        if data.keys() != set(self.inputs):
            raise PipelineCompileError(
                f"The compiled pipeline takes {sorted(self.inputs)}, got {sorted(data)}",
                missing=sorted(set(self.inputs) - data.keys()),
                unknown=sorted(data.keys() - set(self.inputs)),
            )
        values = {**self._bound, **data}
        for step in self._steps:
            step(values)
        return {name: values[name] for name in self.outputs}

    def __repr__(self) -> str:
        return (
            f"CompiledPipeline(nodes={list(self.node_names)}, inputs={list(self.inputs)}, "
            f"outputs={list(self.outputs)})"
        )


def compile_pipeline(
    pipeline: Pipeline,
    *,
    inputs: Iterable[str],
    outputs: Iterable[str],
    data: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> CompiledPipeline:
    """Compile ``pipeline`` into a :class:`CompiledPipeline` that computes ``outputs``.

    Only the nodes the outputs depend on are kept. Every other free input of those nodes must
    be bound here: by ``data`` (fitted models, a threshold, ...) or, for ``params:`` inputs, by
    ``parameters``, which are turned into the nodes' typed parameters (pydantic models,
    dataclasses) exactly as ``kedro run`` does before any node runs.

    Args:
        pipeline: A Kedro pipeline, e.g. the project's registered inference pipeline.
        inputs: The free inputs each call passes (the request).
        outputs: The datasets each call returns.
        data: Values bound once, by dataset name.
        parameters: The raw parameters, as in ``conf/base/parameters*.yml`` (``{"group": {...}}``).

    Returns:
        The compiled pipeline.

    Raises:
        PipelineCompileError: If an output or input is not the pipeline's, or a free input is
            left without a value.
        kedro.validation.ParameterValidationError: If a parameter does not fit its node's type.
    """
    inputs, outputs = list(inputs), list(outputs)
    data = dict(data or {})
    all_outputs = pipeline.all_outputs()
    _check_known("output", outputs, all_outputs)
    needed = pipeline.to_outputs(*outputs)
    free = needed.inputs()
    _check_known("input", inputs, free | set(data))

    bound = {name: value for name, value in data.items() if name in free}
    param_names = sorted(name for name in free - bound.keys() if _is_parameter(name))
    if param_names:
        bound.update(_parameter_values(needed, parameters or {}, param_names))
    missing = sorted(free - bound.keys() - set(inputs))
    if missing:
        raise PipelineCompileError(
            f"Nothing provides the pipeline input(s) {missing}: pass them with each call "
            f"(inputs=...), bind them once (data=...), or, for params:, give parameters=...",
            missing=missing,
        )
    return CompiledPipeline(
        [_step(node) for node in needed.nodes],
        node_names=[node.name for node in needed.nodes],
        inputs=inputs,
        outputs=outputs,
        bound=bound,
    )


def _check_known(kind: str, names: list[str], known: set[str]) -> None:
    unknown = [name for name in names if name not in known]
    if not unknown:
        return
    hints = []
    for name in unknown:
        hint = did_you_mean(name, sorted(known), n=1)
        hints.append(f"{name!r} ({hint})" if hint else repr(name))
    raise PipelineCompileError(
        f"The pipeline has no {kind} {', '.join(hints)}; its {kind}s are {sorted(known)}",
        unknown=unknown,
    )


def _is_parameter(name: str) -> bool:
    return name == "parameters" or name.startswith("params:")


def _parameter_values(
    pipeline: Pipeline, raw: Mapping[str, Any], names: list[str]
) -> dict[str, Any]:
    """The typed value of each ``params:a.b`` input, built the way ``kedro run`` builds it."""
    from kedro.validation import ParameterValidator

    typed = ParameterValidator({"__default__": pipeline}).validate_raw_params(dict(raw))
    values: dict[str, Any] = {}
    for name in names:
        if name == "parameters":
            values[name] = typed
            continue
        value: Any = typed
        for key in name.removeprefix("params:").split("."):
            if isinstance(value, Mapping) and key in value:
                value = value[key]
            elif not isinstance(value, Mapping) and hasattr(value, key):
                value = getattr(value, key)
            else:
                raise PipelineCompileError(
                    f"The parameters hold no {name!r}; the package's parameters are "
                    f"{sorted(raw)}. Package the parameters the pipeline was trained with.",
                    missing=[name],
                )
        values[name] = value
    return values


def _step(node: Node) -> _Step:
    """One node as a plain call on the values dict.

    ``Node.run`` would do the same, but logs at INFO and re-validates its outputs on every call;
    the shapes it checks are fixed, so they are read once here instead.
    """
    func = node.func
    # Kedro keeps the argument structure the node was declared with (str, list or dict).
    node_inputs, node_outputs = node._inputs, node._outputs

    if node_inputs is None:

        def call(values: dict[str, Any]) -> Any:
            return func()
    elif isinstance(node_inputs, str):

        def call(values: dict[str, Any]) -> Any:
            return func(values[node_inputs])
    elif isinstance(node_inputs, dict):
        keywords = dict(node_inputs)

        def call(values: dict[str, Any]) -> Any:
            return func(**{arg: values[name] for arg, name in keywords.items()})
    else:
        positional = list(node_inputs)

        def call(values: dict[str, Any]) -> Any:
            return func(*[values[name] for name in positional])

    if node_outputs is None:

        def step(values: dict[str, Any]) -> None:
            call(values)
    elif isinstance(node_outputs, str):

        def step(values: dict[str, Any]) -> None:
            values[node_outputs] = call(values)
    elif isinstance(node_outputs, dict):
        mapping = dict(node_outputs)

        def step(values: dict[str, Any]) -> None:
            result = call(values)
            for key, name in mapping.items():
                values[name] = result[key]
    else:
        names = list(node_outputs)

        def step(values: dict[str, Any]) -> None:
            values.update(zip(names, call(values), strict=True))

    return step
