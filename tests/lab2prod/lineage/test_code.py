"""Code fingerprints: what a node runs, followed through the project, blind to layout."""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab2prod.lineage.code import CodeScanner, code_changes

HELPERS = '''"""Helpers."""

import numpy as np

LIMIT = 3


def scale(values, factor):
    """Times factor."""
    return [v * factor for v in values]


class Model:
    """A model."""

    def fit(self, values):
        return np.mean(values)
'''

NODES = '''"""Nodes."""

from __future__ import annotations

from {package} import helpers
from {package}.helpers import Model, scale


def build(values, factor):
    """Build features."""
    # scaled first
    return scale(values, factor)[: helpers.LIMIT]


def train(values):
    return Model().fit(values)


def lonely(values):
    return sorted(values)
'''


@pytest.fixture
def write_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Write a package under tmp_path/src and import it fresh: ``write(name, files)``."""
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    written: list[str] = []

    def write(name: str, files: dict[str, str]) -> object:
        package = tmp_path / "src" / name
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("")
        for file, text in files.items():
            (package / file).write_text(text.format(package=name))
        written.append(name)
        importlib.invalidate_caches()
        return importlib.import_module(f"{name}.nodes")

    yield write
    for name in list(sys.modules):
        if name.split(".")[0] in written:
            del sys.modules[name]


def _fingerprint(tmp_path: Path, module: object, function: str) -> dict:
    scanner = CodeScanner(package=None, source_dir=tmp_path / "src")
    return scanner.fingerprint(getattr(module, function)).as_dict()


def test_layout_edits_keep_the_fingerprint(tmp_path: Path, write_package):
    """Comments, docstrings and blank lines change nothing."""
    base = write_package("pkg_a", {"helpers.py": HELPERS, "nodes.py": NODES})
    edited_nodes = NODES.replace("# scaled first", "# a longer comment\n\n").replace(
        '"""Build features."""', '"""Build the features, documented."""'
    )
    edited = write_package(
        "pkg_b",
        {"helpers.py": HELPERS.replace("Times factor.", "Multiplied"), "nodes.py": edited_nodes},
    )
    before = _fingerprint(tmp_path, base, "build")
    after = _fingerprint(tmp_path, edited, "build")
    assert list(before["functions"].values()) == list(after["functions"].values())


def test_helper_edit_is_named(tmp_path: Path, write_package):
    """A change in a helper the node calls changes the node's fingerprint and names it."""
    base = write_package("pkg_c", {"helpers.py": HELPERS, "nodes.py": NODES})
    edited = write_package(
        "pkg_c2", {"helpers.py": HELPERS.replace("v * factor", "v * factor + 1"), "nodes.py": NODES}
    )
    before = _fingerprint(tmp_path, base, "build")
    after = _fingerprint(tmp_path, edited, "build")
    assert before["digest"] != after["digest"]
    renamed = {k.replace("pkg_c2", "pkg_c"): v for k, v in after["functions"].items()}
    assert code_changes(before, {**after, "functions": renamed, "root": before["root"]}) == [
        "code of scale (used by build) changed"
    ]


def test_module_constant_and_method_are_followed(tmp_path: Path, write_package):
    """A module constant read through the module, and a class's method, are part of the code."""
    base = write_package("pkg_d", {"helpers.py": HELPERS, "nodes.py": NODES})
    fingerprint = _fingerprint(tmp_path, base, "build")
    assert any(name.endswith(":helpers.LIMIT") for name in fingerprint["functions"])
    limited = write_package(
        "pkg_d2", {"helpers.py": HELPERS.replace("LIMIT = 3", "LIMIT = 4"), "nodes.py": NODES}
    )
    assert _fingerprint(tmp_path, limited, "build")["digest"] != fingerprint["digest"]
    method = write_package(
        "pkg_d3",
        {"helpers.py": HELPERS.replace("np.mean(values)", "np.median(values)"), "nodes.py": NODES},
    )
    assert (
        _fingerprint(tmp_path, method, "train")["digest"]
        != _fingerprint(tmp_path, base, "train")["digest"]
    )
    # ... and a function that uses neither is untouched by both edits.
    lonely = [_fingerprint(tmp_path, module, "lonely")["functions"] for module in (base, method)]
    assert list(lonely[0].values()) == list(lonely[1].values())


def test_third_party_packages_are_versioned(tmp_path: Path, write_package):
    """The versions of the third-party distributions imported on the way are recorded."""
    base = write_package("pkg_e", {"helpers.py": HELPERS, "nodes.py": NODES})
    packages = _fingerprint(tmp_path, base, "train")["packages"]
    assert packages["numpy"] == importlib.metadata.version("numpy")


def test_partial_arguments_count(tmp_path: Path, write_package):
    """A partial's bound arguments are part of what the node runs."""
    base = write_package("pkg_f", {"helpers.py": HELPERS, "nodes.py": NODES})
    scanner = CodeScanner(package=None, source_dir=tmp_path / "src")
    two = scanner.fingerprint(functools.partial(base.build, factor=2)).digest
    three = scanner.fingerprint(functools.partial(base.build, factor=3)).digest
    assert two != three


def test_fingerprint_is_the_same_in_another_process(tmp_path: Path):
    """What a node runs gives the same fingerprint in every process: a library's callable
    objects (numpy's ufuncs) and module objects are known by version, not by state."""
    source = tmp_path / "src" / "pkg_g"
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "nodes.py").write_text(
        "import numpy as np\n\n\ndef logs(values):\n    return np.log1p(np.abs(values))\n"
    )
    probe = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from lab2prod.lineage.code import CodeScanner; import pkg_g.nodes as n;"
        "print(CodeScanner(package=None, source_dir=Path(sys.argv[1]))"
        ".fingerprint(n.logs).digest)"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path / "src")],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]  # after whatever Kedro logs when imported
        for _ in range(2)
    }
    assert len(digests) == 1 and next(iter(digests)).startswith("sha256:")
