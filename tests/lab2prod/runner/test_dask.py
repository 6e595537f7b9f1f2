"""DaskRunner on a real distributed.LocalCluster on 127.0.0.1: worker processes and threads."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from lab2prod.errors import ClusterConfigError, NodeLostError, NotPortableError
from lab2prod.runner import DaskRunner
from tests.conftest import SMALL_RUN_PARAMS, kedro, make_kedro_skeleton, make_project_copy
from tests.lab2prod.runner import native, nodes


def _chain() -> Pipeline:
    """x -> doubled, x -> plus_one (independent), both -> total; all in memory."""
    return Pipeline(
        [
            node(nodes.double, "x", "doubled", name="double"),
            node(nodes.add_one, "x", "plus_one", name="add_one"),
            node(nodes.total, ["doubled", "plus_one"], "total", name="total"),
        ]
    )


@pytest.mark.parametrize("cluster", ["processes", "threads"])
def test_in_memory_data_passes_between_workers_and_is_released(cluster, request):
    """Intermediate values travel as futures; the run's outputs land in the catalog; nothing of
    the run is left on the cluster afterwards."""
    client = request.getfixturevalue(cluster)
    catalog = DataCatalog({"x": MemoryDataset([1, 2, 3])})
    DaskRunner(client=client).run(_chain(), catalog)
    assert catalog.load("total") == (2 + 4 + 6) + (2 + 3 + 4)
    assert _tasks_left_on(client) == 0


def test_an_in_memory_dataset_is_released_when_its_last_reader_finished(processes):
    """x is read by one node only: once that node is done, the cluster no longer holds x while
    the rest of the run goes on; y, read later, is still there for its reader."""
    prefixes = ["kedro-data-x-", "kedro-data-y-"]
    catalog = DataCatalog({"w": MemoryDataset([1, 2]), "params:prefixes": MemoryDataset(prefixes)})
    pipeline = Pipeline(
        [
            node(nodes.double, "w", "x", name="make_x"),
            node(nodes.add_one, "x", "y", name="read_x"),
            node(nodes.keys_left, ["y", "params:prefixes"], "held", name="after_x"),
        ]
    )
    DaskRunner(client=processes).run(pipeline, catalog)
    held = catalog.load("held")
    assert held["kedro-data-x-"] == []
    assert len(held["kedro-data-y-"]) == 1


@pytest.mark.parametrize("is_async", [False, True])
def test_async_loading_and_saving_on_the_workers(processes, is_async):
    """`--async` loads and saves each node's datasets with threads on its worker."""
    catalog = DataCatalog({"x": MemoryDataset([1, 2, 3])})
    DaskRunner(is_async=is_async, client=processes).run(_chain(), catalog)
    assert catalog.load("total") == 21


def _tasks_left_on(client: Client, wait: float = 10.0) -> int:
    """Tasks the scheduler still holds, once the client's releases (sent in batches) arrived."""
    deadline = time.monotonic() + wait
    while (left := client.run_on_scheduler(_count_tasks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _count_tasks(dask_scheduler) -> int:
    return len(dask_scheduler.tasks)


def test_a_worker_killed_during_a_node_is_retried_and_the_run_completes(processes, tmp_path):
    """SIGKILL of the worker mid-node: Dask runs the node again on a live worker."""
    marker = tmp_path / "attempts"
    catalog = DataCatalog({"x": MemoryDataset([1, 2]), "params:marker": MemoryDataset(str(marker))})
    pipeline = Pipeline(
        [
            node(nodes.kill_worker_once, ["x", "params:marker"], "big", name="kill_once"),
            node(nodes.add_one, "big", "out", name="after"),
        ]
    )
    DaskRunner(client=processes).run(pipeline, catalog)
    assert catalog.load("out") == [11, 21]
    pids = marker.read_text().split()
    assert len(pids) == 2 and pids[0] != pids[1]


@pytest.mark.slow
def test_a_node_that_kills_every_worker_stops_the_run_naming_it():
    """After Dask's allowed failures: NodeLostError naming the node, not a hang. A cluster of
    its own: the shared one's workers would be restarting for the next tests."""
    pipeline = Pipeline([node(nodes.kill_worker_always, "x", "y", name="too_big")])
    with (
        LocalCluster(
            n_workers=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        pytest.raises(NodeLostError, match="Node 'too_big': every worker that ran it died"),
    ):
        DaskRunner(client=client).run(pipeline, DataCatalog({"x": MemoryDataset([1])}))


@pytest.mark.parametrize(
    ("tags", "outcome"), [(["dask.retries-1"], "completes"), ([], "ConnectionError")]
)
def test_retries_tag(processes, tmp_path, tags, outcome):
    """`dask.retries-N` reruns a node that raised; without it the node's error stops the run."""
    marker = tmp_path / "attempts"
    catalog = DataCatalog({"x": MemoryDataset([1]), "params:marker": MemoryDataset(str(marker))})
    pipeline = Pipeline(
        [node(nodes.fail_once, ["x", "params:marker"], "y", name="flaky", tags=tags)]
    )
    if outcome == "completes":
        DaskRunner(client=processes).run(pipeline, catalog)
        assert catalog.load("y") == [10]
    else:
        with pytest.raises(ConnectionError, match="the database went away"):
            DaskRunner(client=processes).run(pipeline, catalog)
        assert len(marker.read_text().split()) == 1


def test_threads_tag_sizes_the_nodes_native_pools_and_gives_the_workers_limit_back(processes):
    """A `dask.threads-2` node computes on 2 OpenMP threads where the workers hold 1 each; the
    nodes after it on either worker are back to 1."""
    pipeline = Pipeline(
        [
            node(native.openmp_threads, "x", "tagged", name="tagged", tags=["dask.threads-2"]),
            node(native.openmp_threads, "x", "untagged", name="untagged"),
            node(native.openmp_threads, "tagged", "after_a", name="after_a"),
            node(native.openmp_threads, "tagged", "after_b", name="after_b"),
            node(nodes.same, "tagged", "tagged_threads", name="keep"),
        ]
    )
    catalog = DataCatalog({"x": MemoryDataset([1])})
    DaskRunner(client=processes).run(pipeline, catalog)
    names = ("tagged_threads", "untagged", "after_a", "after_b")
    threads = {name: catalog.load(name) for name in names}
    assert threads == {"tagged_threads": 2, "untagged": 1, "after_a": 1, "after_b": 1}


def test_limit_tag_runs_its_group_one_at_a_time_and_leaves_other_nodes_free():
    """On a worker with room for three nodes at once, two independent `dask.limit.fit-1`
    nodes never overlap, and an untagged node runs beside the first of them."""
    catalog = DataCatalog({"x": MemoryDataset([1]), "params:s": MemoryDataset(1.0)})
    pipeline = Pipeline(
        [
            node(nodes.spell, ["x", "params:s"], "a", name="fit_a", tags=["dask.limit.fit-1"]),
            node(nodes.spell, ["x", "params:s"], "b", name="fit_b", tags=["dask.limit.fit-1"]),
            node(nodes.spell, ["x", "params:s"], "c", name="free"),
        ]
    )
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=3, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        DaskRunner(client=client).run(pipeline, catalog)
    (a0, a1), (b0, b1), (c0, c1) = (catalog.load(name) for name in "abc")
    assert a1 <= b0 or b1 <= a0, "the two fits overlapped"
    first_start, first_end = min((a0, a1), (b0, b1))
    assert c0 < first_end and first_start < c1, "the free node waited for the fits"


def test_a_limit_group_that_disagrees_is_refused_before_the_run(processes, tmp_path):
    """Two nodes of one group with different N: named before any node runs."""
    marker = tmp_path / "ran"
    catalog = DataCatalog({"x": MemoryDataset([1]), "params:m": MemoryDataset(str(marker))})
    pipeline = Pipeline(
        [
            node(nodes.note_call, ["x", "params:m"], "a", name="a", tags=["dask.limit.fit-1"]),
            node(nodes.note_call, ["x", "params:m"], "b", name="b", tags=["dask.limit.fit-2"]),
        ]
    )
    with pytest.raises(ClusterConfigError, match=r"group 'fit' disagree.*1: \['a'\]; 2: \['b'\]"):
        DaskRunner(client=processes).run(pipeline, catalog)
    assert not marker.exists()


def _unpicklable_dataset(marker: Path) -> tuple[Pipeline, DataCatalog]:
    catalog = DataCatalog(
        {"x": nodes.LockedDataset([1]), "params:marker": MemoryDataset(str(marker))}
    )
    return Pipeline([node(nodes.note_call, ["x", "params:marker"], "y", name="use_x")]), catalog


def _unpicklable_node(marker: Path) -> tuple[Pipeline, DataCatalog]:
    lock = nodes.threading.Lock()

    def holds_a_lock(x, marker):
        with lock:
            return nodes.note_call(x, marker)

    catalog = DataCatalog({"x": MemoryDataset([1]), "params:marker": MemoryDataset(str(marker))})
    return Pipeline([node(holds_a_lock, ["x", "params:marker"], "y", name="locked")]), catalog


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_unpicklable_dataset, "dataset 'x': TypeError: cannot pickle '_thread.lock' object"),
        (_unpicklable_node, "node 'locked': TypeError: cannot pickle '_thread.lock' object"),
    ],
)
def test_what_cannot_travel_is_refused_before_the_run(processes, tmp_path, make, message):
    """Named with the fix, and no node has run."""
    marker = tmp_path / "ran"
    pipeline, catalog = make(marker)
    with pytest.raises(NotPortableError) as caught:
        DaskRunner(client=processes).run(pipeline, catalog)
    assert message in str(caught.value)
    assert "processes=false" in str(caught.value)
    assert not marker.exists()


def test_unpicklable_dataset_works_on_threads(threads, tmp_path):
    """Threads of this process share the catalog: nothing has to be pickled."""
    pipeline, catalog = _unpicklable_dataset(tmp_path / "ran")
    DaskRunner(client=threads).run(pipeline, catalog)
    assert catalog.load("y") == [1]


def test_a_resource_no_worker_has_is_refused_before_the_run(processes):
    """Dask would wait forever for such a worker: the runner says so at once."""
    pipeline = Pipeline(
        [node(nodes.double, "x", "y", name="greedy", tags=["dask.resources.memory-64GB"])]
    )
    with pytest.raises(ClusterConfigError, match=r"Node 'greedy' needs worker resources memory="):
        DaskRunner(client=processes).run(pipeline, DataCatalog({"x": MemoryDataset([1])}))


# -- a real project: hooks on the workers, contracts, the CLI -----------------------------------

_SETTINGS = '''
"""Hooks that note where they ran."""
import json
import os
import time
from pathlib import Path

from kedro.framework.hooks import hook_impl


class WhereHooks:
    def _note(self, hook, name):
        try:
            from distributed import get_worker

            worker = get_worker().address
        except ValueError:
            worker = None
        with (Path.cwd() / "where.jsonl").open("a") as out:
            out.write(json.dumps({"hook": hook, "name": name, "pid": os.getpid(),
                                  "worker": worker}) + "\\n")

    @hook_impl
    def before_node_run(self, node):
        self._note("before_node_run", node.name)

    @hook_impl
    def after_dataset_saved(self, dataset_name):
        self._note("after_dataset_saved", dataset_name)

    @hook_impl
    def before_pipeline_run(self):
        self._note("before_pipeline_run", None)


HOOKS = (WhereHooks(),)
'''

_REGISTRY = """
import pandas as pd
from kedro.pipeline import Pipeline, node


def make(n):
    return list(range(n))


def square(numbers):
    return pd.DataFrame({"value": [v * v for v in numbers]})


def register_pipelines():
    return {"__default__": Pipeline([
        node(make, "params:n", "numbers", name="make"),
        node(square, "numbers", "squares", name="square"),
    ])}
"""

_SCHEMAS = """
import pandera.pandas as pa


class Squares(pa.DataFrameModel):
    value: int = pa.Field(le=100)
"""

_CATALOG = """
squares:
  type: pandas.ParquetDataset
  filepath: data/squares.parquet
  validator:
    class: hooked.schemas.Squares
"""


@pytest.fixture
def hooked(tmp_path) -> Path:
    """A tiny project whose hooks note the process they ran in, with one contract."""
    root = make_kedro_skeleton(tmp_path / "hooked", "hooked")
    package = root / "src" / "hooked"
    (package / "settings.py").write_text(_SETTINGS)
    (package / "pipeline_registry.py").write_text(_REGISTRY)
    (package / "schemas.py").write_text(_SCHEMAS)
    (root / "conf" / "base" / "catalog.yml").write_text(_CATALOG)
    (root / "conf" / "base" / "parameters.yml").write_text("n: 5\n")
    (root / "data").mkdir()
    return root


@pytest.mark.slow
def test_node_and_dataset_hooks_run_on_the_workers_and_run_hooks_once_on_the_client(hooked):
    """`kedro run --runner lab2prod.runner.DaskRunner`: the project is configured on workers."""
    result = kedro(hooked, "run", "--runner", "lab2prod.runner.DaskRunner")
    assert result.returncode == 0, result.stderr[-3000:]
    notes = [json.loads(line) for line in (hooked / "where.jsonl").read_text().splitlines()]
    by_hook = {}
    for note in notes:
        by_hook.setdefault(note["hook"], []).append(note)
    (client,) = by_hook["before_pipeline_run"]
    assert client["worker"] is None
    assert sorted(n["name"] for n in by_hook["before_node_run"]) == ["make", "square"]
    # In memory (numbers) or persisted (squares): the node's worker saved it, as Kedro's Task.
    assert sorted(n["name"] for n in by_hook["after_dataset_saved"]) == ["numbers", "squares"]
    for note in by_hook["before_node_run"] + by_hook["after_dataset_saved"]:
        assert note["worker"].startswith("tcp://127.0.0.1:")
        assert note["pid"] != client["pid"]


@pytest.mark.slow
def test_a_contract_broken_on_a_worker_is_reported_as_on_one_machine(hooked, tmp_path):
    """The same short message as SequentialRunner's, and every failure case on disk."""
    reports = {}
    for runner in ("SequentialRunner", "lab2prod.runner.DaskRunner"):
        result = kedro(hooked, "run", "--runner", runner, "--params", "n=12")
        assert result.returncode == 1
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        start = result.stderr.index("Validation failed for dataset 'squares' on save")
        cases = hooked / "data" / "08_reporting" / "validation" / "squares.csv"
        reports[runner] = (result.stderr[start:].strip(), cases.read_text())
        cases.unlink()
    assert reports["SequentialRunner"] == reports["lab2prod.runner.DaskRunner"]
    message, cases = reports["SequentialRunner"]
    assert "All 1 failure case(s) are in data/08_reporting/validation/squares.csv" in message
    assert "121" in cases


_SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _files(project: Path) -> dict[str, bytes]:
    """Every file a run wrote under data/, versioned folders' timestamps left out; executed
    notebooks and their HTML are left out too (they hold the cells' timings), and the run
    manifests (their run ids and times)."""
    files = {}
    for path in sorted((project / "data").rglob("*")):
        if not path.is_file() or path.suffix in {".ipynb", ".html"} or path.name == ".gitkeep":
            continue
        if "09_tracking" in path.parts:  # the run manifest: its run id and times differ
            continue
        parts = list(path.relative_to(project).parts)
        if len(parts) >= 4 and parts[-2].endswith("Z"):  # data/06_models/model.pkl/<version>/
            parts[-2] = "<version>"
        files["/".join(parts)] = path.read_bytes()
    return files


@pytest.mark.slow
def test_example_project_on_dask_writes_the_same_bytes_as_sequential(tmp_path, monkeypatch):
    """Every table, model and plot of `kedro run` on 2 worker processes, byte for byte.

    Native pools single-threaded in both runs: a model's pickle records its thread count
    (HistGradientBoosting) and BLAS sums in another order with more threads (~1e-13).
    """
    for name, value in _SINGLE_THREADED.items():
        monkeypatch.setenv(name, value)
    sequential = make_project_copy(tmp_path / "sequential")
    on_dask = make_project_copy(tmp_path / "dask")
    result = kedro(sequential, "run", "--params", SMALL_RUN_PARAMS)
    assert result.returncode == 0, result.stderr[-3000:]
    result = kedro(
        on_dask, "run", "--runner", "lab2prod.runner.DaskRunner", "--params", SMALL_RUN_PARAMS
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected, got = _files(sequential), _files(on_dask)
    assert "data/06_models/model.pkl/<version>/model.pkl" in expected
    assert "data/04_feature/scoring_input.parquet" in expected
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if expected[name] != got[name]] == []


@pytest.mark.slow
def test_data_pipelines_on_worker_threads_write_the_same_bytes(tmp_path):
    """`--runner-params processes=false`: workers as threads of the kedro process."""
    pipelines = "data_generation,data_processing"
    runs = {}
    for name, runner in (
        ("sequential", []),
        (
            "threads",
            ["--runner", "lab2prod.runner.DaskRunner", "--runner-params", "processes=false"],
        ),
    ):
        project = make_project_copy(tmp_path / name)
        result = kedro(
            project, "run", "--pipelines", pipelines, *runner, "--params", SMALL_RUN_PARAMS
        )
        assert result.returncode == 0, result.stderr[-3000:]
        runs[name] = _files(project)
    assert "data/04_feature/scoring_input.parquet" in runs["sequential"]
    assert runs["threads"] == runs["sequential"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("adress: tcp://x:8786\n", "Dask setting 'adress'"),
        ("local_cluster:\n  n_workers: 0\n", "Dask setting 'local_cluster.n_workers'"),
        ("retries: -1\n", "Dask setting 'retries'"),
    ],
)
def test_a_bad_dask_yml_stops_the_run_before_any_node(hooked, text, message):
    """One line naming the key; no node ran."""
    (hooked / "conf" / "base" / "dask.yml").write_text(text)
    result = kedro(hooked, "run", "--runner", "lab2prod.runner.DaskRunner")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (hooked / "data" / "squares.parquet").exists()


def test_an_unreachable_scheduler_is_named(hooked):
    """A scheduler that does not answer: the address and where it came from, not a hang."""
    (hooked / "conf" / "base" / "dask.yml").write_text(
        "address: tcp://127.0.0.1:9\nconnect_timeout: 2\n"
    )
    result = kedro(hooked, "run", "--runner", "lab2prod.runner.DaskRunner")
    assert result.returncode != 0
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_tracked_run_on_dask_logs_one_mlflow_run_with_the_nodes_parameters(tmp_path):
    """kedro-mlflow's hooks stay on the client: one MLflow run, the node's parameters in it, no
    stray runs opened by workers."""
    from tests.lab2prod.test_tracking import READ_RUNS, tracking_tool

    project = make_project_copy(tmp_path / "tracked")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    run_args = ["--runner", "lab2prod.runner.DaskRunner", "--pipelines", "data_generation"]
    result = subprocess.run(
        [str(tracking_tool("kedro")), "run", *run_args, "--params", SMALL_RUN_PARAMS],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    read = subprocess.run(
        [str(tracking_tool("python")), "-c", READ_RUNS],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, read.stderr[-3000:]
    (run,) = json.loads(read.stdout.strip().splitlines()[-1])
    assert run["status"] == "FINISHED"
    assert "n_transactions=40000" in run["params"]["data_generation"]
