"""Static analysis of one statement: what it reads, binds and changes, and its kind of effect."""

from __future__ import annotations

import ast

import pytest

from lab2prod.convert.analysis import Scope, analyze

MODULES = {"pd": "pandas", "np": "numpy", "plt": "matplotlib.pyplot", "record": "lab2prod.record"}

STATEMENTS = [
    ('df["x"] = df["a"] * 2', "effect", {"df"}, set()),
    ("df.drop(columns=['a'], inplace=True)", "effect", {"df"}, set()),
    ("model.fit(X, y)", "effect", {"model"}, set()),
    ("items.append(1)", "effect", {"items"}, set()),
    ("rng.normal(size=3)", "effect", {"rng"}, set()),
    ("del df['x']", "effect", {"df"}, set()),
    ("df.head()", "none", set(), set()),
    ("summary = df.groupby('a').sum()", "none", set(), {"summary"}),
    ("print(df.shape)", "display", set(), set()),
    ("record('n', n)", "display", set(), set()),
    ("df.plot.bar()", "plot", set(), set()),
    ("fig, ax = plt.subplots()", "plot", set(), {"fig", "ax"}),
    ("df.to_csv('out.csv')", "write", set(), set()),
    ("np.random.seed(0)", "effect", set(), set()),
    ("np.log(df['a'])", "none", set(), set()),
    ("clean(df)", "effect", set(), set()),
    ("b = a", "none", set(), {"b"}),
    # A call whose result is unused changes its receiver, unless its method is known pure.
    ("mapie.conformalize(X, y)", "effect", {"mapie"}, set()),
    ('params["sigmax"].set(min=0)', "effect", {"params"}, set()),
    ("G.add_edge(1, 2)", "effect", {"G"}, set()),
    ("search.results.reset()", "effect", {"search"}, set()),
    ("for g in graphs:\n    g.add_edge(1, 2)", "effect", {"g"}, {"g"}),
    ("threshold = mapie.compute_threshold(X)", "none", set(), {"threshold"}),
    ("model.summary()", "none", set(), set()),
    ("', '.join(names)", "none", set(), set()),
    ("x = rs.randn(3)", "effect", {"rs"}, {"x"}),
    ("rs.randint(0, 10)", "effect", {"rs"}, set()),
    ("handle.write(text)", "effect", set(), set()),  # kept, but a file handle has no versions
]


@pytest.mark.parametrize(("source", "effect", "mutates", "binds"), STATEMENTS)
def test_statement_effects(source: str, effect: str, mutates: set[str], binds: set[str]):
    """Known mutators change their receiver; pure calls, prints, plots and writes are told apart."""
    facts = analyze(ast.parse(source).body[0], Scope(modules=dict(MODULES)))
    assert (facts.effect, facts.mutates, facts.binds) == (effect, mutates, binds)


def test_alias_and_swap_are_recorded_with_their_sources():
    """`b = a` aliases; `a, b = b, a` aliases together, to the objects before the swap."""
    swap = analyze(ast.parse("a, b = b, a").body[0], Scope())
    aliases = [(e.name, e.source, e.together) for e in swap.events if e.kind == "alias"]
    assert aliases == [("a", "b", True), ("b", "a", True)]


def test_comprehension_and_lambda_variables_are_not_reads():
    """Names bound inside a comprehension or a lambda are local to it."""
    facts = analyze(
        ast.parse("y = [v * k for v in xs] + list(map(lambda w: w + t, zs))").body[0], Scope()
    )
    assert facts.reads == ["xs", "k", "list", "map", "t", "zs"]


def test_loop_variable_is_an_element_of_what_it_iterates():
    """Changing a loop variable changes the container it came from (see flow.py)."""
    facts = analyze(ast.parse("for frame in frames:\n    frame['x'] = 1").body[0], Scope())
    assert [(e.kind, e.name, e.source) for e in facts.events if e.kind != "read"] == [
        ("element", "frame", "frames"),
        ("mutate", "frame", None),
    ]
    assert facts.children and facts.header_pure


def test_a_notebook_function_that_needs_a_variable_reads_it_where_used():
    """Using `flag` (which reads `threshold`) reads `threshold` at the call."""
    scope = Scope(helpers={"flag": ("threshold",)})
    facts = analyze(ast.parse("out = df['a'].apply(flag)").body[0], scope)
    assert "threshold" in facts.reads
    assert [name.id for name, call in facts.helper_uses] == ["flag"]
    assert facts.helper_uses[0][1] is None  # used as a value: partial, not keywords


@pytest.mark.parametrize(
    ("source", "construct"),
    [
        ("from os import *", "star import"),
        ("exec('x = 1')", "exec"),
        ("eval('1')", "eval"),
        ("globals()['x'] = 1", "globals()"),
        ("get_ipython().run_line_magic('time', 'x')", "get_ipython()"),
        ("global x", "global"),
    ],
)
def test_unsupported_constructs_are_found(source: str, construct: str):
    """Constructs that hide reads and writes are reported with their line."""
    facts = analyze(ast.parse(source).body[0], Scope())
    assert [(u.line, u.construct) for u in facts.unsupported] == [(1, construct)]
