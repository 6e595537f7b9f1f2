"""Fingerprints of notebook variables: equal content, equal digest; a change in place, another."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from lab2prod.convert.fingerprint import fingerprint


@pytest.mark.parametrize(
    ("make", "change"),
    [
        (lambda: np.arange(10.0), lambda a: a.__setitem__(3, -1.0)),
        (
            lambda: pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
            lambda f: f.loc.__setitem__((0, "b"), "z"),
        ),
        (lambda: pd.Series([1.0, 2.0], name="s"), lambda s: s.__setitem__(0, 5.0)),
        (lambda: [1, {"k": [2]}], lambda v: v[1]["k"].append(3)),
        (StandardScaler, lambda m: m.fit(np.ones((3, 2)))),
    ],
    ids=["array", "frame", "series", "nested list", "estimator"],
)
def test_a_change_in_place_changes_the_digest_and_keeps_the_id(make, change):
    """The same object changed in place: same id, another digest; an equal copy: same digest."""
    value = make()
    before = fingerprint(value)
    assert before is not None and before[1] is not None
    assert fingerprint(make())[1] == before[1]  # equal content, equal digest
    change(value)
    after = fingerprint(value)
    assert after[0] == before[0] and after[1] != before[1]


def test_values_past_the_cap_are_sampled_or_not_hashed():
    """A big array is sampled (noted); a big pickle has no digest and says why."""
    array = np.zeros(1000)
    _, digest, note = fingerprint(array, cap=800)
    assert digest is not None and note.startswith("sampled")
    _, digest, note = fingerprint(list(range(1000)), cap=100)
    assert digest is None and "over" in note


def test_what_cannot_be_pickled_says_so_and_what_is_not_data_is_left_out():
    """A generator has no digest (the note names why); modules and functions are not data."""
    _, digest, note = fingerprint(x for x in range(3))
    assert digest is None and note.startswith("cannot be pickled")
    assert fingerprint(np) is None
    assert fingerprint(fingerprint) is None
