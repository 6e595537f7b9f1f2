"""A Kedro pipeline compiled into a plain call sequence computes what ``kedro run`` computes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline, node
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidationError
from pydantic import BaseModel, Field

from fraud_detection.pipelines import inference
from fraud_detection.pipelines.inference_features.nodes import FeatureParams
from lab2prod.serving import PipelineCompileError, compile_pipeline

FEATURE_PARAMETERS = {"inference_features": FeatureParams().model_dump()}


def test_compiled_inference_pipeline_equals_a_kedro_run(scoring_input, fitted_model):
    """The example's inference pipeline, compiled, returns exactly SequentialRunner's output."""
    pipeline = inference.create_pipeline()
    catalog = DataCatalog({})
    catalog["scoring_input"] = scoring_input
    catalog["model"] = fitted_model
    catalog["decision_threshold"] = 0.5
    catalog["params:inference_features"] = FeatureParams()
    expected = SequentialRunner().run(pipeline, catalog)["predictions"].load()

    compiled = compile_pipeline(
        pipeline,
        inputs=["scoring_input"],
        outputs=["predictions"],
        data={"model": fitted_model, "decision_threshold": 0.5},
        parameters=FEATURE_PARAMETERS,
    )
    got = compiled(scoring_input=scoring_input)["predictions"]

    pd.testing.assert_frame_equal(got, expected)
    assert compiled.node_names == ("build_features", "score_transactions")


class Scale(BaseModel):
    factor: float = Field(gt=0)


@dataclass
class Offset:
    value: int = 0


def double(x: int) -> int:
    return 2 * x


def scale(x: int, params: Scale) -> float:
    return x * params.factor


def split(x: int) -> tuple[int, int]:
    return x, -x


def named(low: int, high: int) -> dict[str, int]:
    return {"total": low + high, "spread": high - low}


def shifted(x: int, offset: Offset) -> int:
    return x + offset.value


def unused(x: int) -> int:
    raise AssertionError("a node the outputs do not need must not run")


TOY = Pipeline(
    [
        node(double, "x", "doubled", name="double"),
        node(scale, ["doubled", "params:scale"], "scaled", name="scale"),
        node(split, "scaled", ["up", "down"], name="split"),
        node(named, {"low": "down", "high": "up"}, {"total": "total", "spread": "spread"}),
        node(shifted, ["x", "params:shift.offset"], "shifted", name="shift"),
        node(unused, "x", "unused", name="unused"),
    ]
)


def test_every_node_shape_is_called_like_kedro_calls_it():
    """str/list/dict inputs and outputs, typed parameters (pydantic and dataclass, nested)."""
    compiled = compile_pipeline(
        TOY,
        inputs=["x"],
        outputs=["total", "spread", "shifted"],
        parameters={"scale": {"factor": 1.5}, "shift": {"offset": {"value": 7}}},
    )
    assert compiled(x=2) == {"total": 0.0, "spread": 12.0, "shifted": 9}
    assert "unused" not in compiled.node_names


def test_parameters_are_typed_before_the_first_call():
    """A parameter that does not fit its node's type fails at compile time, naming it."""
    with pytest.raises(ParameterValidationError, match=r"(?s)scale.*factor"):
        compile_pipeline(TOY, inputs=["x"], outputs=["scaled"], parameters={"scale": {"factor": 0}})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outputs": ["totl"]}, r"no output 'totl' \(did you mean 'total'\?\)"),
        ({"inputs": ["y"]}, r"no input 'y'"),
        ({"inputs": []}, r"Nothing provides the pipeline input\(s\) \['x'\]"),
        ({"parameters": {}}, r"The parameters hold no 'params:scale'"),
    ],
)
def test_compile_errors_name_what_is_wrong(kwargs, message):
    """Unknown names get a suggestion; an unbound input or parameter is named."""
    arguments = {
        "inputs": ["x"],
        "outputs": ["total"],
        "parameters": {"scale": {"factor": 2.0}},
        **kwargs,
    }
    with pytest.raises(PipelineCompileError, match=message):
        compile_pipeline(TOY, **arguments)


def test_a_call_must_pass_exactly_the_inputs():
    """Calling with a wrong name fails with the names expected, not a KeyError deep inside."""
    compiled = compile_pipeline(TOY, inputs=["x"], outputs=["doubled"])
    with pytest.raises(PipelineCompileError, match=r"takes \['x'\], got \['z'\]") as caught:
        compiled(z=1)
    assert caught.value.missing == ["x"]
    assert caught.value.unknown == ["z"]
