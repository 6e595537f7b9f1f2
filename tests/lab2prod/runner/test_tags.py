"""`dask.*` node tags: retries, resources and threads read, mistakes named with the node."""

from __future__ import annotations

import pytest
from kedro.pipeline import node

from lab2prod.errors import ClusterConfigError
from lab2prod.runner.tags import NodeOptions, node_options


def _identity(x):
    return x


def _node(*tags: str):
    return node(_identity, "a", "b", name="step", tags=list(tags))


@pytest.mark.parametrize(
    ("tags", "options"),
    [
        ((), NodeOptions()),
        (("dask.retries-2",), NodeOptions(retries=2)),
        (("dask.resources.memory-4GB",), NodeOptions(resources={"memory": 4e9})),
        (("dask.resources.memory-512MiB",), NodeOptions(resources={"memory": 512 * 2**20})),
        (("dask.resources.GPU-1", "training"), NodeOptions(resources={"GPU": 1.0})),
        (("dask.resources.slots-0.5",), NodeOptions(resources={"slots": 0.5})),
        (("dask.threads-2",), NodeOptions(threads=2)),
        (("dask.threads-all",), NodeOptions(threads="all")),
        (("dask.limit.fit-1",), NodeOptions(limits={"fit": 1})),
        (("dask.limit.fit-2", "dask.limit.io-1"), NodeOptions(limits={"fit": 2, "io": 1})),
    ],
)
def test_tags_become_dask_options(tags, options):
    """Each form of the documented tags, other tags ignored."""
    assert node_options(_node(*tags)) == options


def test_default_retries_apply_to_untagged_nodes_only():
    """dask.yml's `retries` is the default; a node's tag wins."""
    assert node_options(_node(), default_retries=3).retries == 3
    assert node_options(_node("dask.retries-0"), default_retries=3).retries == 0


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (
            ("dask.retry-2",),
            "Node 'step' has the tag 'dask.retry-2'.*Did you mean 'dask.retries-2'",
        ),
        (("dask.retries-two",), "tag 'dask.retries-two', which Dask cannot read"),
        (("dask.resources.memory-lots",), "the amount 'lots' of tag 'dask.resources.memory-lots'"),
        (("dask.resources.memory-0",), "must be positive"),
        (("dask.retries-1", "dask.retries-2"), r"several retries tags \[1, 2\]"),
        (("dask.threads-0",), "tag 'dask.threads-0', which Dask cannot read"),
        (("dask.thread-all",), "Did you mean 'dask.threads-all'"),
        (("dask.threads-2", "dask.threads-all"), r"several threads tags \['2', 'all'\]"),
        (("dask.limit.fit-0",), "tag 'dask.limit.fit-0', which Dask cannot read"),
        (("dask.limits.fit-1",), "Did you mean 'dask.limit.fit-1'"),
        (("dask.limit.fit-1", "dask.limit.fit-2"), r"several limits for the group 'fit'"),
    ],
)
def test_malformed_tags_are_named(tags, message):
    """One error naming the node and the tag."""
    with pytest.raises(ClusterConfigError, match=message) as caught:
        node_options(_node(*tags))
    assert caught.value.node == "step"
