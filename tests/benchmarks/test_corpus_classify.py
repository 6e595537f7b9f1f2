"""The public corpus's classes (benchmarks/corpus/classify.py): what each observation counts as."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "corpus_classify", ROOT / "benchmarks" / "corpus" / "classify.py"
)
classify = importlib.util.module_from_spec(_spec)
sys.modules["corpus_classify"] = classify
_spec.loader.exec_module(classify)
Observed = classify.Observed

RAN = {"convert_exit": 0, "run_exit": 0}


@pytest.mark.parametrize(
    ("seen", "expected", "reason"),
    [
        (
            Observed(truth_error="ModuleNotFoundError: No module named 'torch'"),
            classify.NOT_EXECUTABLE,
            "No module named 'torch'",
        ),
        (
            Observed(convert_exit=1, convert_message="code cell 3: `X` is defined twice"),
            classify.REFUSED,
            "defined twice",
        ),
        (
            Observed(convert_exit=0, verify_mismatches=("p.scores: 3 of 9 values differ",)),
            classify.FLAGGED,
            "3 of 9 values differ",
        ),
        (
            Observed(convert_exit=0, verify_error="KeyError: 'x'", run_exit=1),
            classify.FLAGGED,
            "raised under --verify",
        ),
        (
            Observed(convert_exit=0, run_exit=1, run_error="AttributeError: no 'endog'"),
            classify.CRASHED,
            "endog",
        ),
        (Observed(**RAN, compared=4, lost=("scores",)), classify.DIFFERS, "scores"),
        (
            Observed(**RAN, compared=4, differences=("p.y1 as saved: the notebook has a value",)),
            classify.DIFFERS,
            "as saved",
        ),
        (Observed(**RAN, compared=4), classify.REPRODUCED, "4 values equal"),
        (Observed(**RAN), classify.REPRODUCED, "nothing to compare"),
        (Observed(timed_out="kedro run"), classify.TIMED_OUT, "kedro run"),
    ],
)
def test_each_observation_has_one_class(seen, expected, reason):
    """Refusals, --verify findings, crashes and silent differences are told apart."""
    kind, why = classify.classify(seen)
    assert (kind, reason in why) == (expected, True)


def test_rate_leaves_out_examples_that_do_not_run_by_themselves():
    """The rate is over executable examples: one that fails alone does not count against it."""
    classes = [classify.REPRODUCED] * 9 + [classify.DIFFERS, classify.NOT_EXECUTABLE]
    table = classify.rates(classes)
    assert table[classify.REPRODUCED] == (9, 0.9)
    assert table[classify.DIFFERS] == (1, 0.1)
