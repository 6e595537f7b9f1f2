"""The conversion plan: nodes, their inputs and outputs, dataset names and catalog entries."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from lab2prod.convert.plan import ConversionPlan, NodePlan, plan_conversion
from lab2prod.convert.project import Project, generate
from lab2prod.notebook import read_notebook
from tests.lab2prod.convert.conftest import CONVERTIBLE, CORPUS, PACKAGE, make_corpus_project


def plan(stem: str, existing: dict | None = None) -> ConversionPlan:
    """The plan of a corpus notebook, as if it lived in a project's notebooks/ folder."""
    notebook = read_notebook(CORPUS / f"{stem}.ipynb")
    return plan_conversion(
        notebook,
        pipeline=stem,
        package=PACKAGE,
        project_path=CORPUS.parent,
        existing_catalog=existing,
    )


def node(found: ConversionPlan, name: str) -> NodePlan:
    return next(n for n in found.nodes if n.name == name)


def wiring(found: NodePlan) -> tuple[list[str], list[str]]:
    return [i.dataset for i in found.inputs], [o.dataset for o in found.outputs]


def made_plan(tmp_path: Path, *cells: tuple[str, str, list[str]], existing: dict | None = None):
    """The plan of a notebook made of (type, source, tags) cells, in tmp_path/notebooks/."""
    raw = [
        {"cell_type": kind, "metadata": {"tags": tags}, "source": source}
        | ({"outputs": [], "execution_count": None} if kind == "code" else {})
        for kind, source, tags in cells
    ]
    path = tmp_path / "notebooks" / "made.ipynb"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": raw}))
    return plan_conversion(
        read_notebook(path),
        pipeline="made",
        package=PACKAGE,
        project_path=tmp_path,
        existing_catalog=existing,
    )


@pytest.mark.parametrize("stem", CONVERTIBLE)
def test_every_dataset_has_exactly_one_producer(stem: str):
    """No dataset is the output of two nodes, and every input is produced or declared."""
    found = plan(stem)
    outputs = Counter(o.dataset for n in found.nodes for o in n.outputs)
    assert all(count == 1 for count in outputs.values()), outputs
    for n in found.nodes:
        for i in n.inputs:
            assert i.dataset in outputs or i.dataset in found.inputs


def test_mutation_in_place_outputs_a_new_dataset_read_by_later_sections():
    """A section changing `orders` in place outputs `orders_<node>`; later sections read it."""
    found = plan("mutation_in_place")
    ns = "mutation_in_place."
    assert wiring(node(found, "flag_large_orders")) == (
        ["orders"],
        [f"{ns}orders_flag_large_orders"],
    )
    assert node(found, "flag_large_orders").copies == ("orders",)
    assert wiring(node(found, "summarise")) == (
        [f"{ns}categories", f"{ns}orders_flag_large_orders"],
        [f"{ns}summary", f"{ns}n_categories", f"{ns}categories_summarise"],
    )
    assert node(found, "summarise").copies == ("categories",)
    assert found.results == (f"{ns}summary", f"{ns}n_categories", f"{ns}categories_summarise")


def test_reassignment_across_sections_chains_versions():
    """Each section rebinding `orders` makes a dataset the next section reads."""
    found = plan("reassignment_across_sections")
    ns = "reassignment_across_sections."
    assert [wiring(n) for n in found.nodes] == [
        (["orders"], [f"{ns}orders_keep_paid_orders"]),
        ([f"{ns}orders_keep_paid_orders"], [f"{ns}orders_keep_large_orders"]),
        ([f"{ns}orders_keep_large_orders"], [f"{ns}total"]),
    ]
    assert all(not n.copies for n in found.nodes)  # rebinding is not changing


def test_aliasing_follows_the_object_not_the_name():
    """Changing `paid`, an alias, changes `orders`; swapped names read the right datasets."""
    found = plan("aliasing")
    marked = "aliasing.orders_mark_paid_orders"
    assert wiring(node(found, "mark_paid_orders")) == (["orders"], [marked])
    join = node(found, "join")
    assert [(i.argument, i.dataset) for i in join.inputs] == [
        ("right", marked),
        ("left", "customers"),
    ]
    assert "'Swap names' (code cell 4)" in found.left_out  # only names existing values


def test_model_fitted_in_place_is_checked_by_its_predictions():
    """`model.fit(X, y)` in the section that creates the model: one output, checked on `X`."""
    found = plan("fits_a_model")
    ns = "fits_a_model."
    assert wiring(node(found, "train")) == (
        ["params:fits_a_model.C", f"{ns}X", f"{ns}y"],
        [f"{ns}model"],
    )
    check = next(c for c in found.checks if c.dataset == f"{ns}model")
    assert (check.node, check.variable, check.predict_on) == ("train", "model", "X")
    assert node(found, "train").outputs[0].hint == "LogisticRegression"


def test_helper_functions_become_module_level():
    """Functions defined in setup or in a section are module-level, in notebook order."""
    found = plan("helper_functions")
    assert [text.split("(")[0].splitlines()[-1] for text in found.helpers] == [
        "def discount_rate",
        "def net_amount",
        "def describe",
    ]
    assert "    # net of the category's discount\n" in found.helpers[1]  # comments are kept
    assert node(found, "report").body == "report = describe(orders)\n"


def test_parameters_used_in_a_function_are_passed_to_it():
    """`flag` reads the parameters: it takes them keyword-only, and every use passes them."""
    found = plan("parameters_in_function")
    assert found.helpers[0].startswith("def flag(amount, *, label: str, threshold: float):")
    flag = node(found, "flag_orders")
    assert [i.dataset for i in flag.inputs] == [
        "orders",
        "params:parameters_in_function.label",
        "params:parameters_in_function.threshold",
    ]
    assert "apply(functools.partial(flag, label=label, threshold=threshold))" in flag.body
    assert "[flag(a, label=label, threshold=threshold) for a in" in flag.body
    assert found.parameters == {"threshold": 50.0, "label": "large"}


def test_literal_path_reads_become_catalog_entries_with_their_arguments():
    """Reads are relative to the project root, typed by their function, arguments kept."""
    found = plan("literal_path_reads")
    assert found.catalog["orders"] == {
        "type": "pandas.CSVDataset",
        "filepath": "data/01_raw/orders.csv",
        "load_args": {
            "usecols": ["order_id", "customer_id", "amount"],
            "dtype": {"order_id": "int64"},
        },
    }
    assert found.catalog["literal_path_reads_orders"] == {  # the same file, read otherwise
        "type": "polars.EagerPolarsDataset",
        "filepath": "data/01_raw/orders.csv",
        "file_format": "csv",
    }
    assert "orders_data.group_by(" in node(found, "totals_with_polars").body
    assert set(found.inputs) == {
        "orders",
        "customers",
        "literal_path_reads_orders",
        "literal_path_reads_customers",
    }


def test_results_are_saved_with_a_type_appropriate_dataset():
    """Plain data to JSON; the rest to ValueDataset, which picks a format that loads back."""
    spend = plan("no_headings").catalog["no_headings.spend"]
    assert spend == {
        "type": "lab2prod.datasets.ValueDataset",
        "filepath": "data/03_primary/no_headings/spend",
    }
    total = plan("reassignment_across_sections").catalog["reassignment_across_sections.total"]
    assert total["type"] == "json.JSONDataset"
    assert plan("a_class").catalog["a_class.counts"]["type"] == "json.JSONDataset"
    report = plan("helper_functions").catalog["helper_functions.report"]
    assert report["type"] == "lab2prod.datasets.ValueDataset"
    assert report["filepath"] == "data/06_models/helper_functions/report"


def test_display_code_is_dropped_with_a_note():
    """Magics, shell escapes, bare expressions, prints and plots are listed, not generated."""
    magics = plan("magics_and_shell")
    assert [(d.text, d.reason) for d in magics.module_drops] == [
        ("%load_ext autoreload", "magic"),
        ("%autoreload 2", "magic"),
        ("!echo setting up", "shell"),
    ]
    clean = node(magics, "clean")
    assert (
        clean.body == 'orders = orders.dropna()\n\nmean_amount = float(orders["amount"].mean())\n'
    )
    shown = node(plan("plots"), "amount_by_category")
    assert [(d.text, d.reason) for d in shown.drops] == [("plt.show()", "display")]


def test_a_section_that_plots_keeps_its_code_and_returns_its_figures():
    """Plots stay in their node; the figures are an output saved as PNGs under the pipeline."""
    found = plan("plots")
    assert [n.name for n in found.nodes] == ["amount_by_category", "distribution", "totals"]
    assert found.left_out == ()
    distribution = node(found, "distribution")
    assert "fig.tight_layout()" in distribution.body
    assert wiring(distribution) == (["orders"], ["plots.distribution_figures"])
    assert distribution.figures == "figures"
    assert found.catalog["plots.distribution_figures"] == {
        "type": "matplotlib.MatplotlibDataset",
        "filepath": "data/08_reporting/plots/distribution",
        "overwrite": True,
    }
    # What a plotting section computes and nothing reads is a result, like the final section's.
    assert "plots.by_category" in found.results
    assert "plots.distribution_figures" in found.results


def test_computation_inside_a_plotting_loop_is_kept():
    """Fits inside a loop that draws stay; a printed value is a result; `skip-plots` drops."""
    found = plan("computes_and_plots")
    cluster = node(found, "cluster_while_plotting")
    assert "labels = model.fit_predict(X)" in cluster.body
    assert 'ax.set_title(f"{name}: inertia {model.inertia_:.0f}")' in cluster.body
    assert wiring(node(found, "score")) == (
        ["computes_and_plots.models"],
        ["computes_and_plots.inertia"],  # printed: a result, though nothing reads it
    )
    assert "computes_and_plots.inertia" in found.results
    largest = node(found, "largest_orders")  # its cell is tagged skip-plots
    assert largest.figures is None
    assert [d.reason for d in largest.drops] == ["plot"]


def test_a_plot_that_rebinds_a_name_is_kept_so_later_reads_see_its_value():
    """`x1, x2, y1, y2 = plt.axis()` rebinds `y1`: the next section reads the plot's `y1`."""
    found = plan("plot_rebinds_a_name")
    ns = "plot_rebinds_a_name."
    assert wiring(node(found, "span")) == (
        [f"{ns}y2", f"{ns}y1_plot", f"{ns}x2", f"{ns}x1_plot"],
        [f"{ns}span", f"{ns}width"],
    )


def test_a_function_that_plots_makes_its_caller_draw(tmp_path: Path):
    """A call of a notebook function that draws is a plot: the node returns the figures."""
    found = made_plan(
        tmp_path,
        ("code", "import matplotlib.pyplot as plt\n\ndef show(values):\n    plt.plot(values)", []),
        ("markdown", "## Draw", []),
        ("code", "values = [1, 2, 3]\nshow(values)", []),
    )
    assert [o.dataset for o in found.nodes[0].outputs] == ["made.values", "made.draw_figures"]


def test_loops_keep_their_code_and_drop_prints_inside():
    """A loop that changes `orders` outputs it; a print inside a kept loop is dropped."""
    found = plan("loops")
    assert wiring(node(found, "fill_gaps")) == (["orders"], ["loops.orders_fill_gaps"])
    split = node(found, "split_by_category")
    assert "print(" not in split.body
    assert "frames[category] = group.reset_index(drop=True)" in split.body


def test_no_headings_is_one_node_named_from_the_title():
    """Without H2 headings the code is one node, named from the H1 title."""
    found = plan("no_headings")
    assert [wiring(n) for n in found.nodes] == [(["orders"], ["no_headings.spend"])]
    assert found.nodes[0].name == "spend_per_customer"


def test_node_tags_start_nodes_and_skipped_cells_are_left_out():
    """`node:drop_cancelled` names a node; the `skip` cell's code is nowhere."""
    found = plan("node_tags_and_skip")
    assert [n.name for n in found.nodes] == ["drop_cancelled", "summarise"]
    assert all("scratch" not in n.body for n in found.nodes)


def test_existing_catalog_entry_for_the_same_file_is_reused(tmp_path: Path):
    """A read of a file the catalog declares, with the same load arguments, reads that entry."""
    existing = {
        "raw_transactions": {
            "type": "pandas.ParquetDataset",
            "filepath": "data/01_raw/transactions.parquet",
        },
        "totals": {"type": "pandas.ParquetDataset", "filepath": "data/03_primary/totals.parquet"},
    }
    found = made_plan(
        tmp_path,
        ("code", "import pandas as pd", []),
        ("markdown", "## Totals", []),
        ("code", 'tx = pd.read_parquet("../data/01_raw/transactions.parquet")', []),
        ("code", 'totals = tx.groupby("customer_id", as_index=False)["amount"].sum()', []),
        existing=existing,
    )
    assert wiring(found.nodes[0]) == (["raw_transactions"], ["made.totals"])
    assert found.catalog == {
        "made.totals": {
            "type": "lab2prod.datasets.ValueDataset",
            "filepath": "data/03_primary/made/totals",
        }
    }


def test_kedro_ipython_catalog_load_reads_the_project_dataset(tmp_path: Path):
    """`catalog.load("name")` (from %load_ext kedro.ipython) is an input named `name`."""
    found = made_plan(
        tmp_path,
        ("code", "%load_ext kedro.ipython", []),
        ("markdown", "## Count", []),
        ("code", 'df = catalog.load("raw_transactions")\nn = len(df)', []),
    )
    assert wiring(found.nodes[0]) == (["raw_transactions"], ["made.n"])
    assert found.catalog == {
        "made.n": {"type": "json.JSONDataset", "filepath": "data/08_reporting/made/n.json"}
    }


def test_same_heading_twice_gets_numbered_nodes(tmp_path: Path):
    """Two sections called 'Step' are nodes `step` and `step_2`."""
    found = made_plan(
        tmp_path,
        ("markdown", "## Step", []),
        ("code", "a = 1", []),
        ("markdown", "## Step", []),
        ("code", "b = a + 1", []),
    )
    assert [n.name for n in found.nodes] == ["step", "step_2"]


def test_two_names_for_one_input_object_are_one_input(tmp_path: Path):
    """Reading `a` and its alias `b` passes one dataset; the body re-creates the alias."""
    found = made_plan(
        tmp_path,
        ("markdown", "## Make", []),
        ("code", "a = [1]\nb = a", []),
        ("markdown", "## Use", []),
        ("code", "b.append(2)\ntotal = sum(a)", []),
    )
    use = node(found, "use")
    assert wiring(use) == (["made.a"], ["made.total", "made.a_use"])
    assert use.aliases == (("a", "b"),) or use.aliases == (("b", "a"),)
    assert use.copies in (("a",), ("b",))


def test_a_function_changing_its_argument_changes_the_callers_object(tmp_path: Path):
    """`add_flag(orders)` where `add_flag` sets a column: `orders` gets a new dataset."""
    found = made_plan(
        tmp_path,
        ("code", 'def add_flag(frame, *, column="flag"):\n    frame[column] = True', []),
        ("markdown", "## Make", []),
        ("code", "import pandas as pd\norders = pd.DataFrame({'a': [1]})", []),
        ("markdown", "## Flag", []),
        ("code", "add_flag(orders)", []),
        ("markdown", "## Count", []),
        ("code", "n = int(orders['flag'].sum())", []),
    )
    assert wiring(node(found, "flag")) == (["made.orders"], ["made.orders_flag"])
    assert node(found, "flag").copies == ("orders",)
    assert wiring(node(found, "count")) == (["made.orders_flag"], ["made.n"])


def test_files_written_are_catalog_outputs_that_later_reads_read():
    """`to_csv`, `np.save`, `json.dump` and `savefig` are outputs; reads of them are inputs."""
    found = plan("files_written_and_read")
    assert wiring(node(found, "clean")) == (["orders"], ["paid", "amounts"])
    assert found.catalog["paid"] == {  # after `%cd ..`, from the project root
        "type": "pandas.CSVDataset",
        "filepath": "data/02_intermediate/paid.csv",
        "save_args": {"index": False},
    }
    assert found.catalog["amounts"]["type"] == "lab2prod.datasets.NumpyDataset"
    summarise = node(found, "summarise")
    assert [i.dataset for i in summarise.inputs] == ["paid", "amounts"]
    assert "summary_json = summary" in summarise.body
    written = {found.catalog[o.dataset]["filepath"]: o.dataset for o in summarise.outputs}
    assert found.catalog[written["data/08_reporting/summary.json"]] == {
        "type": "json.JSONDataset",
        "filepath": "data/08_reporting/summary.json",
        "save_args": {"indent": 2},
    }
    figure = found.catalog[written["data/08_reporting/amounts.png"]]
    assert (figure["type"], figure["save_args"]) == ("matplotlib.MatplotlibDataset", {"dpi": 80})
    # Nothing reads the last two files: they are results, so `kedro run` still writes them.
    assert set(written.values()) <= set(found.results)


def test_a_file_written_and_read_in_one_section_stays_code(tmp_path: Path):
    """Read back in the same section, the file is the node's business: both calls stay."""
    found = made_plan(
        tmp_path,
        ("code", "import pandas as pd", []),
        ("markdown", "## Round trip", []),
        (
            "code",
            'df = pd.DataFrame({"a": [1]})\ndf.to_csv("x.csv")\nback = pd.read_csv("x.csv")',
            [],
        ),
    )
    body = found.nodes[0].body
    assert 'df.to_csv("x.csv")' in body and 'back = pd.read_csv("x.csv")' in body
    assert "x" not in found.catalog


def test_a_read_of_a_missing_file_is_a_warning_naming_where_it_looked(tmp_path: Path):
    """The conversion goes on; the warning names the path as written and as looked for."""
    found = made_plan(
        tmp_path,
        ("code", "import pandas as pd", []),
        ("markdown", "## Load", []),
        ("code", 'df = pd.read_csv("../data/01_raw/nowhere.csv")\nn = len(df)', []),
    )
    assert len(found.warnings) == 1
    assert "reads '../data/01_raw/nowhere.csv', which does not exist" in found.warnings[0]
    assert str((tmp_path / "data" / "01_raw" / "nowhere.csv").resolve()) in found.warnings[0]


@pytest.mark.parametrize(
    ("cells", "says"),
    [
        (["x = 1", "%cd .."], "changing the working folder here"),
        (["import os", 'os.chdir("..")'], "changing the working folder here"),
    ],
)
def test_changing_folder_after_the_top_is_refused(tmp_path: Path, cells: list[str], says: str):
    """`%cd` or `os.chdir` in a section would move every later path: refused with the fix."""
    from lab2prod.errors import ConversionError

    with pytest.raises(ConversionError, match=says):
        made_plan(
            tmp_path,
            ("code", cells[0], []),
            ("markdown", "## Later", []),
            ("code", cells[1] + "\ny = 2", []),
        )


def test_a_module_name_rebound_is_imported_by_the_node_that_rebinds_it():
    """`datasets` is a module, then a list: the node that rebinds it imports it first."""
    found = plan("module_name_rebound")
    make = node(found, "make_the_data_sets")
    assert make.imports == ("from sklearn import datasets",)
    assert wiring(make) == ([], ["module_name_rebound.datasets"])
    # The function reads `datasets` when it is called: each call passes the caller's.
    assert "def moons(n, *, datasets):" in found.helpers[0]
    assert "moons(30, datasets=datasets)" in make.body
    count = node(found, "count_the_iris")
    assert count.imports == ()  # imported again: the module, not the list
    assert wiring(count) == (
        ["module_name_rebound.means"],
        ["module_name_rebound.n_iris", "module_name_rebound.n_sets"],
    )


def test_redefined_functions_and_classes_are_each_kept_and_used_where_live():
    """A definition made again gets `_2`; each use, and each helper's call, the live one."""
    found = plan("redefined_definitions")
    names = [re.search(r"^(?:def|class) (\w+)", t, re.MULTILINE).group(1) for t in found.helpers]
    # Each after the definition it follows; the copy of `Nearest` calling `distance_2` too.
    assert names == [
        "distance", "Nearest", "spread", "distance_2", "Nearest_3", "spread_2", "Nearest_2"
    ]  # fmt: skip
    first, second = node(found, "first_try"), node(found, "second_try")
    assert "Nearest(1)" in first.body and "spread(points)" in first.body
    assert "Nearest_2(1)" in second.body and "spread_2(points)" in second.body
    texts = "\n".join(found.helpers)
    # The second class's base is the first class as it runs after `distance` is redefined.
    assert "class Nearest_2(Nearest_3):" in texts
    assert "return min(distance_2(p, point) for p in self.points_)" in texts
    assert "return round(max(distance_2(p, q) for p in points for q in points), 6)" in texts


def test_mutations_a_run_showed_become_new_versions():
    """`(section, variable)` from --verify: the node copies the variable and outputs it."""
    before = plan("unseen_mutation")
    # `rng.shuffle(indices)` is known to change `indices`; fitting a pipeline built from
    # `scaler` is not known to change `scaler`: an assumption the record lists.
    assert wiring(node(before, "shuffle"))[1] == ["unseen_mutation.indices_shuffle"]
    assert "unseen_mutation.scaler_fit" not in wiring(node(before, "fit"))[1]
    assert any("`scaler` assumed unchanged by `model.fit(" in a for a in before.assumptions)
    notebook = read_notebook(CORPUS / "unseen_mutation.ipynb")
    after = plan_conversion(
        notebook,
        pipeline="unseen_mutation",
        package=PACKAGE,
        project_path=CORPUS.parent,
        mutations=[("fit", "scaler")],
    )
    fit = node(after, "fit")
    assert "unseen_mutation.scaler_fit" in wiring(fit)[1]
    assert "scaler" in fit.copies
    assert after.mutations == (("fit", "scaler"),)
    assert "unseen_mutation.scaler_fit" in wiring(node(after, "score"))[0]


def test_a_function_fitting_a_notebook_variable_changes_the_callers_object():
    """`tune()` fits the notebook's `search`: the caller's `search` gets a new version, so
    the next section reads the fitted search (not one without `cv_results_`)."""
    found = plan("fitted_in_a_helper")
    search = node(found, "search")
    assert wiring(search) == (
        ["fitted_in_a_helper.X", "fitted_in_a_helper.y", "fitted_in_a_helper.search"],
        ["fitted_in_a_helper.best_score", "fitted_in_a_helper.search_search"],
    )
    assert search.copies == ("search",)
    assert "best_score = tune(X=X, y=y, search=search)" in search.body
    assert "fitted_in_a_helper.search_search" in wiring(node(found, "report"))[0]


def test_a_method_call_whose_result_is_unused_is_kept_and_changes_its_object():
    """`tally.absorb(values)`, `params["sigmax"].set(min=3.0)`, `graph.add_edge(...)`:
    kept for their effect, each object gets the version the section made, and the report
    reads those (not the objects as they were before the calls)."""
    found = plan("effect_calls_unused_result")
    update = node(found, "update")
    stem = "effect_calls_unused_result"
    assert wiring(update)[1] == [
        f"{stem}.tally_update",
        f"{stem}.params_update",
        f"{stem}.graph_update",
    ]
    assert update.copies == ("tally", "params", "graph")
    for kept in (
        "tally.absorb(values)",
        'params["sigmax"].set(min=3.0)',
        "graph.add_edge(values[i], values[i + 1])",
    ):
        assert kept in update.body
    assert "tally.describe()" not in update.body  # a known display method stays display
    # A legacy RandomState's draw advances it: the report draws from the advanced state.
    assert f"{stem}.rs_draw" in wiring(node(found, "draw"))[1]
    report = wiring(node(found, "report"))[0]
    assert report == [
        f"{stem}.tally_update",
        f"{stem}.params_update",
        f"{stem}.graph_update",
        f"{stem}.rs_draw",
    ]


def test_a_value_kept_for_its_effect_that_nothing_reads_is_a_result(tmp_path: Path):
    """`best = tune(...)` is kept (the call has effects); `best`, read by nothing, is saved
    instead of becoming a local variable nobody uses."""
    found = made_plan(
        tmp_path,
        ("code", "def tune(n):\n    return n + 1", []),
        ("markdown", "## Search", []),
        ("code", "best = tune(1)", []),
        ("markdown", "## Last", []),
        ("code", "z = 2", []),
    )
    assert wiring(node(found, "search")) == ([], ["made.best"])
    assert "made.best" in found.results


def test_paths_in_code_kept_as_code_are_written_from_the_project_root(tmp_path: Path):
    """A file read by a call kept as code opens from the project root, where nodes run."""
    project = Project.at(make_corpus_project(tmp_path / "project"))
    found = generate(project, "notebooks/reads_a_file_as_code.ipynb", "reads").plan
    body = node(found, "load").body
    assert 'open("data/01_raw/orders.csv")' in body
    assert 'np.genfromtxt("data/01_raw/orders.csv"' in body
    assert 'label = f"../data/01_raw/{len(rows)}.csv"' in body  # not a literal path: kept


def test_a_value_shown_then_rebound_in_its_section_is_no_result():
    """`fit` printed, then refitted in the same section: only the value the section ends with."""
    found = plan("shown_then_rebound")
    assert wiring(node(found, "fit"))[1] == ["shown_then_rebound.fit"]
    assert found.results == ("shown_then_rebound.slope",)


def test_a_correction_that_no_longer_applies_is_dropped():
    """A recorded change for a section or variable the notebook no longer has is not kept."""
    notebook = read_notebook(CORPUS / "unseen_mutation.ipynb")
    found = plan_conversion(
        notebook,
        pipeline="unseen_mutation",
        package=PACKAGE,
        project_path=CORPUS.parent,
        mutations=[("fit", "scaler"), ("renamed_section", "scaler"), ("fit", "gone")],
    )
    assert found.mutations == (("fit", "scaler"),)


@pytest.mark.parametrize(
    ("to_pandas", "reused"),
    [({"self_destruct": True}, True), ({"types_mapper": "pd.ArrowDtype"}, False)],
)
def test_an_entry_whose_extra_options_only_save_memory_is_still_the_same_read(
    tmp_path: Path, to_pandas: dict, reused: bool
):
    """`to_pandas_kwargs: {self_destruct: true}` changes memory, not the frame: the entry is
    reused; an option that changes the frame (dtypes) makes the read an entry of its own."""
    existing = {
        "raw_transactions": {
            "type": "pandas.ParquetDataset",
            "filepath": "data/01_raw/transactions.parquet",
            "load_args": {"to_pandas_kwargs": to_pandas},
        },
    }
    found = made_plan(
        tmp_path,
        ("code", "import pandas as pd", []),
        ("markdown", "## Count", []),
        ("code", 'tx = pd.read_parquet("../data/01_raw/transactions.parquet")\nn = len(tx)', []),
        existing=existing,
    )
    assert (wiring(found.nodes[0])[0] == ["raw_transactions"]) is reused
