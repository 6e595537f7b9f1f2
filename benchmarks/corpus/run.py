"""The public corpus: other people's examples converted, run and compared with the notebook.

Run with ``make corpus`` (``make corpus ARGS="--only lmfit --limit 3"`` for a few). It runs
in ``.tools/corpus``, the project's locked environment plus the packages of ``corpus.toml``
(pinned there, never in the project's lock). For each distribution of ``corpus.toml`` it
downloads the pinned source distribution from PyPI into ``.tools/corpus-cache/`` (outside git;
its SHA-256 is checked, and each example's), then, for each example, in a scratch Kedro project
of its own under ``benchmarks/.work/corpus/<example>/``:

1. the example becomes ``notebooks/<stem>.ipynb`` beside links to every file of its own folder
   (data it reads): a ``.ipynb`` as it is, a sphinx-gallery script as the gallery's own
   "download notebook" (sphinx-gallery's converter: rST headings become markdown ones), a
   ``# %%`` script with jupytext;
2. ``kedro notebook convert notebooks/<stem>.ipynb --pipeline <stem> --verify``: refused (and
   why), flagged by ``--verify`` (datasets that differ, changes the pipeline does not follow,
   the pipeline raising), or written and verified (with the corrections ``--verify`` made);
3. the notebook runs once more for the truth (papermill, in its own folder, as in JupyterLab),
   with cells inserted that keep each variable the plan checks at the end of its section and,
   around the last section, every variable; a notebook that fails by itself is "not
   executable" and outside the rate;
4. ``kedro run --pipeline <stem>``, with a hook (``capture_hooks.py``) keeping every node's
   inputs (as the catalog loaded them) and outputs; saved results are loaded back from the
   catalog;
5. each value is compared with the notebook's (``lab2prod.convert.verify``'s comparison), and the
   final section's values no dataset carries are "lost".

``classify.py`` turns that into one class per example. The results replace the ``corpus``
section of ``docs/benchmarks.md`` (not with ``--only``/``--limit``), and every example's
outcome is in ``benchmarks/.work/corpus/results.json``.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _common import ROOT, WORK, machine, write_section  # noqa: E402
from classify import CLASSES, NOT_EXECUTABLE, TIMED_OUT, Observed, classify, rates  # noqa: E402

LIST = HERE / "corpus.toml"
CACHE = ROOT / ".tools" / "corpus-cache"
OUT = WORK / "corpus"
BIN = Path(sys.executable).parent
PACKAGE = "corpus_example"
CAPTURE_TAG = "lab2prod-corpus"
SECONDS_PER_CELL = 120
SECONDS_PER_STEP = 600
SECONDS_PER_EXAMPLE = 1200
TRUTH_ONLY_ENV = "LAB2PROD_CORPUS_TRUTH_ONLY"
CHILD_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "DO_NOT_TRACK": "true",
    "MPLBACKEND": "agg",
    # One thread each: the machine is shared, and results must not depend on thread timing.
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
}


@dataclass(frozen=True)
class Distribution:
    """A pinned source distribution and what its examples need installed."""

    name: str
    version: str
    sdist: str
    sha256: str
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    """One example file inside a distribution."""

    distribution: str
    path: str
    sha256: str
    format: str

    @property
    def id(self) -> str:
        return f"{self.distribution}/{self.path}"

    @property
    def slug(self) -> str:
        stem = Path(self.path).with_suffix("").as_posix()
        return re.sub(r"[^A-Za-z0-9]+", "-", f"{self.distribution}-{stem}").strip("-")

    @property
    def pipeline(self) -> str:
        name = re.sub(r"\W+", "_", Path(self.path).stem).strip("_").lower()
        return name if name[:1].isalpha() else f"x_{name}"


def read_list(path: Path = LIST) -> tuple[dict[str, Distribution], list[Example], list[str]]:
    """The distributions, the examples and the converters' requirements of ``corpus.toml``."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    dists = {
        d["name"]: Distribution(
            d["name"], d["version"], d["sdist"], d["sha256"], tuple(d.get("requirements", ()))
        )
        for d in data["distribution"]
    }
    examples = [
        Example(e["distribution"], e["path"], e["sha256"], e["format"]) for e in data["example"]
    ]
    return dists, examples, list(data.get("converters", {}).get("requirements", []))


def requirements() -> list[str]:
    """Everything ``.tools/corpus`` installs on top of the project's environment."""
    dists, _, converters = read_list()
    found = list(converters)
    for dist in dists.values():
        found += [r for r in dist.requirements if r not in found]
    return found


# -- distributions ---------------------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(dist: Distribution) -> Path:
    """The distribution unpacked under the cache (downloaded and checked the first time)."""
    archive = CACHE / "dist" / dist.sdist
    if not archive.exists():
        archive.parent.mkdir(parents=True, exist_ok=True)
        python = shutil.which("python3") or sys.executable
        subprocess.run(
            [python, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             "--dest", str(archive.parent), f"{dist.name}=={dist.version}"],
            check=True,
        )  # fmt: skip
    if not archive.exists():
        raise SystemExit(f"pip did not download {dist.sdist} for {dist.name}=={dist.version}")
    digest = sha256(archive)
    if digest != dist.sha256:
        raise SystemExit(f"{archive}: SHA-256 {digest}, corpus.toml says {dist.sha256}")
    target = CACHE / "src" / f"{dist.name}-{dist.version}"
    if not (target / ".unpacked").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(target)
        else:
            with tarfile.open(archive) as tarred:
                # Python 3.11.4+ filters members; an older 3.11 cannot (the archive is pinned
                # by its SHA-256 above).
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tarred.extractall(target, **safe)
        (target / ".unpacked").touch()
    tops = [p for p in target.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else target


# -- one example ------------------------------------------------------------------------------


def make_project(root: Path) -> Path:
    """A Kedro project with an empty package whose settings register the capture hooks."""
    shutil.rmtree(root, ignore_errors=True)
    package = root / "src" / PACKAGE
    (package / "pipelines").mkdir(parents=True)
    (package / "__init__.py").write_text('"""A corpus example."""\n')
    (package / "pipelines" / "__init__.py").write_text('"""Converted pipelines."""\n')
    (package / "settings.py").write_text(
        '"""Every node input and output kept for the corpus."""\n\n'
        "from capture_hooks import CaptureHooks\n\nHOOKS = (CaptureHooks(),)\n"
    )
    (package / "pipeline_registry.py").write_text(
        '"""Every pipeline found."""\n\n'
        "from kedro.framework.project import find_pipelines\n\n\n"
        "def register_pipelines():\n"
        "    pipelines = find_pipelines(raise_errors=True)\n"
        '    pipelines["__default__"] = sum(pipelines.values())\n'
        "    return pipelines\n"
    )
    (root / "pyproject.toml").write_text(
        f'[tool.kedro]\npackage_name = "{PACKAGE}"\nproject_name = "corpus example"\n'
        'kedro_init_version = "1.7.0"\nsource_dir = "src"\n\n'
        '[tool.ruff]\nline-length = 100\ntarget-version = "py311"\n'
    )
    for folder in ("conf/base", "conf/local", "tests/pipelines", "notebooks"):
        (root / folder).mkdir(parents=True)
    for layer in ("01_raw", "02_intermediate", "03_primary", "05_model_input", "08_reporting"):
        (root / "data" / layer).mkdir(parents=True)
    return root


def prepare(example: Example, source: Path, project: Path) -> Path:
    """The example as ``notebooks/<stem>.ipynb``, beside links to its folder's files."""
    path = source / example.path
    digest = sha256(path)
    if digest != example.sha256:
        raise SystemExit(f"{example.id}: SHA-256 {digest}, corpus.toml says {example.sha256}")
    folder = project / "notebooks"
    for sibling in path.parent.iterdir():
        if sibling != path and not sibling.name.startswith("."):
            (folder / sibling.name).symlink_to(sibling)
    notebook = folder / f"{path.stem}.ipynb"
    (folder / notebook.name).unlink(missing_ok=True)
    if example.format == "ipynb":
        shutil.copyfile(path, notebook)
        return notebook
    scratch = project / ".example"
    scratch.mkdir()
    script = scratch / path.name
    shutil.copyfile(path, script)
    if example.format == "sphinx-gallery":
        # The gallery's own converter, as its "download notebook" links are made.
        cli = "from sphinx_gallery.notebook import python_to_jupyter_cli as c; c()"
        command = [sys.executable, "-c", cli, str(script)]
    elif example.format == "percent":
        command = [
            str(BIN / "jupytext"),
            "--quiet",
            "--from",
            "py:percent",
            "--to",
            "ipynb",
            str(script),
        ]
    else:
        raise SystemExit(f"{example.id}: unknown format {example.format!r}")
    subprocess.run(command, check=True, capture_output=True, env=child_env())
    shutil.move(script.with_suffix(".ipynb"), notebook)
    shutil.rmtree(scratch)
    return notebook


def child_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **CHILD_ENV, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH")) if p)
    env["PATH"] = os.pathsep.join((str(BIN), env.get("PATH", "")))
    return env


def run_command(args: list[str], cwd: Path, log: Path, **extra: str) -> tuple[int | None, str]:
    """Exit code (``None``: past ``SECONDS_PER_STEP``) and output of a command in its own group."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            args, cwd=cwd, env=child_env(**extra), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            code: int | None = proc.wait(SECONDS_PER_STEP)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    return code, log.read_text(errors="replace")


def last_error(text: str) -> str:
    """The line of a command's output that says what failed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Error: "):
            return line.removeprefix("Error: ")[:400]
    pattern = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b|Error\b).*")
    errors = [line for line in lines if pattern.match(line)]
    return (errors[-1] if errors else (lines[-1] if lines else "no output"))[:400]


def convert(project: Path, notebook: Path, example: Example, log: Path) -> dict[str, Any]:
    """``kedro notebook convert --verify``: exit code, message, what ``--verify`` found."""
    relative = notebook.relative_to(project).as_posix()
    args = [str(BIN / "kedro"), "notebook", "convert", relative, "--pipeline", example.pipeline]
    code, text = run_command([*args, "--verify"], project, log)
    found = [
        line.strip()
        for line in text.splitlines()
        if line.strip().startswith(("mismatch ", "unseen "))
    ]
    return {
        "exit": code,
        "verified": "Verifying:" in text,
        "message": "" if code == 0 else last_error(text),
        "findings": found,
        "corrected": [line.strip() for line in text.splitlines() if "corrected " in line],
    }


def not_results(notebook: Any, cells: Iterable[Any]) -> set[str]:
    """Names that are no section's results: imported anywhere, or bound inside a loop, or as
    ``with`` or ``except`` targets, in the section's ``cells``."""
    from lab2prod.magics import split_ipython

    names: set[str] = set()
    for cell in notebook.code_cells:
        try:
            tree = ast.parse(split_ipython(cell.source)[0])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    for cell in cells:
        try:
            tree = ast.parse(split_ipython(cell.source)[0])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            targets: list[ast.AST] = []
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                # What a loop binds is its last round's leftovers, not the section's results.
                targets = [node]
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            for target in targets:
                names |= {
                    n.id
                    for n in ast.walk(target)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                }
    return names


SNAPSHOT = """
def _lab2prod_snapshot(prefix):
    import types
    from lab2prod.convert.capture import comparable
    from lab2prod.execute.record import record
    kinds = {}
    for name, value in list(globals().items()):
        if name.startswith("_") or name in ("In", "Out", "exit", "quit", "get_ipython"):
            continue
        if isinstance(value, (types.ModuleType, type, types.FunctionType)):
            continue
        try:
            kind, form = comparable(value, None)
            if form is None:
                continue
            if kind == "array" and len(str(form["values"])) > 5_000_000:
                continue
            record(prefix + name, form)
        except Exception:
            continue
        kinds[name] = kind
    record(prefix + "_kinds", kinds)
"""


def instrument(source: dict[str, Any], plan: Any, before: int | None, after: int) -> dict[str, Any]:
    """A copy of the notebook keeping every check's variable and the final section's values."""
    notebook = json.loads(json.dumps(source))
    lines: dict[int, list[str]] = {}
    for number, check in enumerate(plan.checks):
        fitted = f"lambda: {check.predict_on}" if check.predict_on else "None"
        lines.setdefault(check.after_cell, []).append(
            f"try:\n    _lab2prod_capture('check_{number}', lambda: {check.variable}, {fitted})\n"
            "except Exception:\n    pass"
        )
    if before is not None:
        lines.setdefault(before, []).append("_lab2prod_snapshot('before__')")
    lines.setdefault(after, []).append("_lab2prod_snapshot('after__')")
    for index in sorted(lines, reverse=True):
        cell = {
            "cell_type": "code",
            "metadata": {"tags": [CAPTURE_TAG]},
            "source": "\n".join(lines[index]),
            "outputs": [],
            "execution_count": None,
        }
        notebook["cells"].insert(index + 1, cell)
    head = SNAPSHOT + "\nfrom lab2prod.convert.capture import capture as _lab2prod_capture\n"
    setup = {"cell_type": "code", "metadata": {"tags": [CAPTURE_TAG]}, "source": head,
             "outputs": [], "execution_count": None}  # fmt: skip
    notebook["cells"].insert(0, setup)
    for number, cell in enumerate(notebook["cells"]):
        if notebook.get("nbformat_minor", 0) >= 5:
            cell.setdefault("id", f"lab2prod-corpus-{number}")
    return notebook


def final_section(notebook: Any) -> tuple[int | None, int, list[Any]]:
    """The cell after which the last section with code starts, its last cell, its cells."""
    sections = [s for s in notebook.sections() if s.cells]
    if not sections:
        raise SystemExit(f"{notebook.path}: no code cells")
    last = sections[-1]
    before = sections[-2].cells[-1].index if len(sections) > 1 else None
    return before, last.cells[-1].index, list(last.cells)


def truth(notebook_path: Path, plan: Any, out: Path) -> tuple[str | None, dict[str, Any], Any]:
    """Run the notebook once (instrumented when there is a plan): error, records, notebook."""
    from lab2prod.errors import NotebookError
    from lab2prod.execute.runner import execute_notebook
    from lab2prod.notebook import read_notebook

    notebook = read_notebook(notebook_path)
    target = notebook_path
    if plan is not None:
        before, after, _ = final_section(notebook)
        data = json.loads(notebook_path.read_text(encoding="utf-8"))
        target = notebook_path.with_name(f".{notebook_path.stem}.truth.ipynb")
        target.write_text(json.dumps(instrument(data, plan, before, after)), encoding="utf-8")
    try:
        result = execute_notebook(target, output_dir=out, timeout_per_cell=SECONDS_PER_CELL)
    except NotebookError as exc:
        return str(exc).strip().splitlines()[0][:400], {}, notebook
    finally:
        if target != notebook_path:
            target.unlink(missing_ok=True)
    return None, result.records, notebook


def load_captured(folder: Path) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """What the capture hooks kept: outputs by dataset, inputs by (node, dataset)."""
    import pickle

    outputs: dict[str, Any] = {}
    inputs: dict[tuple[str, str], Any] = {}
    for path in sorted(folder.glob("out/*.pkl")):
        outputs[path.stem] = pickle.loads(path.read_bytes())
    for path in sorted(folder.glob("in/*/*.pkl")):
        inputs[(path.parent.name, path.stem)] = pickle.loads(path.read_bytes())
    return outputs, inputs


def compare(project: Path, plan: Any, records: dict[str, Any], capture: Path) -> dict[str, Any]:
    """Every value of ``kedro run`` against the notebook's; the final section's lost values."""
    from lab2prod.convert.capture import KINDS_RECORD
    from lab2prod.convert.project import Project
    from lab2prod.convert.verify import _compare, catalog_loader

    sys.path.insert(0, str(project / "src"))
    outputs, inputs = load_captured(capture)
    load = catalog_loader(Project.at(project))
    kinds = records.get(KINDS_RECORD, {})
    compared, differences, skipped = 0, [], []
    for number, check in enumerate(plan.checks):
        name = f"check_{number}"
        seen: list[tuple[str, Any]] = []
        if check.dataset in outputs:
            seen.append((f"output of {check.node}", outputs[check.dataset]))
        seen += [
            (f"as {node} loads it", v) for (node, d), v in inputs.items() if d == check.dataset
        ]
        entry = plan.catalog.get(check.dataset)
        if entry is not None and "filepath" in entry and not entry["type"].startswith("matplotlib"):
            try:
                seen.append(("as saved", load(check.dataset)))
            except Exception as exc:  # a result that does not load back is a finding
                differences.append(f"{check.dataset} as saved: does not load ({exc})"[:300])
        for where, value in seen:
            outcome = _compare(check, kinds.get(name), records, name, {check.dataset: value})
            if outcome.status == "ok":
                compared += 1
            elif outcome.status == "mismatch":
                differences.append(f"{check.dataset} {where}: {outcome.detail}"[:300])
            else:
                skipped.append(f"{check.dataset}: {outcome.detail}")
    return {"compared": compared, "differences": differences, "skipped": skipped}


def lost_values(plan: Any, records: dict[str, Any], notebook: Any) -> list[str]:
    """Values the final section creates or changes that no dataset of the plan carries."""
    before_cell, _, cells = final_section(notebook)
    after_kinds = records.get("after___kinds", {})
    before_kinds = records.get("before___kinds", {}) if before_cell is not None else {}
    temporary = not_results(notebook, cells)
    first = cells[0].index
    carried = {c.variable for c in plan.checks if c.after_cell >= first}
    carried |= {o.variable for n in plan.nodes for o in n.outputs}
    lost = []
    for name in sorted(after_kinds):
        if name in temporary or name in carried:
            continue
        if name in before_kinds and _same(
            records.get(f"before__{name}"), records.get(f"after__{name}")
        ):
            continue
        lost.append(name)
    return lost


def _same(left: Any, right: Any) -> bool:
    try:
        import pandas as pd

        if isinstance(left, pd.DataFrame) or isinstance(right, pd.DataFrame):
            return (
                isinstance(left, pd.DataFrame)
                and isinstance(right, pd.DataFrame)
                and left.equals(right)
            )
        return bool(left == right)
    except Exception:  # values that cannot be compared count as changed
        return False


def one(example: Example, source: Path, folder: Path) -> dict[str, Any]:
    """Everything for one example; the observation and its class."""
    from lab2prod.convert.project import Project, generate

    started = time.perf_counter()
    project = make_project(folder / "project")
    notebook = prepare(example, source, project)
    if os.environ.get(TRUTH_ONLY_ENV):  # only whether it runs offline by itself, and how long
        error = truth(notebook, None, folder / "truth")[0]
        seconds = round(time.perf_counter() - started, 1)
        kind = NOT_EXECUTABLE if error else "executable"
        return {"id": example.id, "class": kind, "reason": error or "", "seconds": seconds}
    logs = folder / "logs"
    logs.mkdir()
    converted = convert(project, notebook, example, logs / "convert.txt")
    facts: dict[str, Any] = {"convert": converted}
    if converted["exit"] is None:
        seen = Observed(timed_out="kedro notebook convert --verify")
        return _result(example, seen, facts, started)
    refused = converted["exit"] == 1 and not converted["verified"]
    # The files as written: after --verify, with the corrections it recorded.
    generated = None if refused else generate(Project.at(project), notebook, example.pipeline)
    plan = generated.plan if generated is not None else None
    error, records, read = truth(notebook, plan, folder / "truth")
    verify_error = None
    if converted["verified"] and converted["exit"] != 0 and not converted["findings"]:
        verify_error = converted["message"]
    run_exit, run_error, found = None, "", {"compared": 0, "differences": [], "skipped": []}
    lost: list[str] = []
    if error is None and plan is not None:
        capture = folder / "capture"
        args = [str(BIN / "kedro"), "run", "--pipeline", example.pipeline]
        run_exit, text = run_command(
            args, project, logs / "run.txt", LAB2PROD_CORPUS_CAPTURE=str(capture)
        )
        if run_exit is None:
            return _result(example, Observed(timed_out="kedro run"), facts, started)
        if run_exit != 0:
            run_error = last_error(text)
        else:
            found = compare(project, plan, records, capture)
            lost = lost_values(plan, records, read)
    facts["skipped"] = found["skipped"]
    seen = Observed(
        truth_error=error,
        convert_exit=1 if refused else 0,
        convert_message=converted["message"] if refused else "",
        verify_mismatches=tuple(converted["findings"]),
        verify_error=verify_error,
        run_exit=run_exit,
        run_error=run_error,
        compared=found["compared"],
        differences=tuple(found["differences"]),
        lost=tuple(lost),
    )
    return _result(example, seen, facts, started)


def _result(
    example: Example, seen: Observed, facts: dict[str, Any], started: float
) -> dict[str, Any]:
    kind, reason = classify(seen)
    return {
        "id": example.id,
        "class": kind,
        "reason": reason,
        "seconds": round(time.perf_counter() - started, 1),
        "observed": asdict(seen),
        **facts,
    }


# -- the whole corpus ------------------------------------------------------------------------


def run_all(examples: list[Example], jobs: int) -> list[dict[str, Any]]:
    """Each example in a process of its own, ``jobs`` at a time; results in list order."""
    from concurrent.futures import ThreadPoolExecutor

    done = 0

    def run(example: Example) -> dict[str, Any]:
        nonlocal done
        result = run_example(example)
        done += 1
        print(
            f"[{done}/{len(examples)}] {result['class']:<22} {result['seconds']:>6.1f}s  "
            f"{example.id}: {result['reason'][:150]}",
            flush=True,
        )
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run, examples))


def run_example(example: Example) -> dict[str, Any]:
    folder = OUT / example.slug
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    result_file = folder / "result.json"
    args = [sys.executable, __file__, "--one", example.id, "--result", str(result_file)]
    started = time.perf_counter()
    with (folder / "harness.txt").open("w") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True
        )
        try:
            proc.wait(SECONDS_PER_EXAMPLE)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if result_file.exists():
        return json.loads(result_file.read_text())
    timed_out = proc.returncode == -signal.SIGKILL
    return {
        "id": example.id,
        "class": TIMED_OUT if timed_out else "harness error",
        "reason": "past the example's time limit"
        if timed_out
        else last_error((folder / "harness.txt").read_text(errors="replace")),
        "seconds": round(time.perf_counter() - started, 1),
    }


def report(results: list[dict[str, Any]], dists: dict[str, Distribution], load: tuple[float, float],
           command: str) -> str:  # fmt: skip
    classes = [r["class"] for r in results]
    executable = [r for r in results if r["class"] != NOT_EXECUTABLE]
    table = rates(classes)
    used = sorted({r["id"].split("/", 1)[0] for r in results})
    lines = [
        "## Public corpus (notebook conversion)",
        "",
        f"`{command}`, {dt.date.today().isoformat()}, {machine()}.",
        f"1-minute load average {load[0]:.2f} before, {load[1]:.2f} after.",
        "",
        f"{len(results)} examples written by other people, from the source distributions of "
        + ", ".join(f"{n} {dists[n].version}" for n in used)
        + " (list and SHA-256 in `benchmarks/corpus/corpus.toml`). "
        f"{len(executable)} run offline by themselves (executable); the rate is over those.",
        "",
        "| class | examples | share |",
        "|---|---|---|",
    ]
    for name in CLASSES:
        count, share = table[name]
        lines.append(f"| {name} | {count} | {share:.0%} |")
    other = sorted({c for c in classes if c not in CLASSES and c != NOT_EXECUTABLE})
    for name in other:
        lines.append(f"| {name} | {classes.count(name)} | |")
    reproduced = [r for r in results if r["class"] == "reproduced"]
    compared = sum(1 for r in reproduced if r["reason"] != "nothing to compare")
    lines += [
        "",
        f"Reproduced: {len(reproduced)} of {len(executable)} "
        f"({len(reproduced) / max(len(executable), 1):.0%}; target >= 90%), {compared} of them "
        "with values compared. Ran but differs: "
        f"{classes.count('ran but differs')} (target 0).",
    ]
    for name in [*CLASSES[1:], *other, NOT_EXECUTABLE]:
        listed = [r for r in results if r["class"] == name]
        if not listed:
            continue
        lines += ["", f"**{name}**:", ""]
        lines += [f"- `{r['id']}`: {_md(r['reason'])}" for r in listed]
    return "\n".join(lines)


def _md(text: str) -> str:
    """A reason for the results page: no path of this machine, no table-breaking characters."""
    text = re.sub(r"\S*/project/", "", text).replace(str(ROOT), ".")
    return text.replace("|", "\\|").replace("`", "'")[:300]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="Examples whose id has this.")
    parser.add_argument("--limit", type=int, default=None, help="At most this many examples.")
    parser.add_argument("--requirements", action="store_true", help="Print what to install.")
    parser.add_argument("--jobs", type=int, default=2, help="Examples run at once (default 2).")
    parser.add_argument(
        "--truth-only",
        action="store_true",
        help="Only run each notebook by itself: which run offline, and how long they take.",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requirements:
        print("\n".join(requirements()))
        return
    dists, examples, _ = read_list()
    if args.one:
        example = next(e for e in examples if e.id == args.one)
        source = fetch(dists[example.distribution])
        result = one(example, source, args.result.parent)
        args.result.write_text(json.dumps(result, indent=1, default=str))
        return
    chosen = [e for e in examples if not args.only or any(o in e.id for o in args.only)]
    chosen = chosen[: args.limit] if args.limit else chosen
    for name in sorted({e.distribution for e in chosen}):
        fetch(dists[name])
    if args.truth_only:
        os.environ[TRUTH_ONLY_ENV] = "1"
    before = os.getloadavg()[0]
    results = run_all(chosen, args.jobs)
    after = os.getloadavg()[0]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    command = "make corpus" + (f' ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")
    body = report(results, dists, (before, after), command)
    print(body)
    if not (args.only or args.limit or args.truth_only):
        write_section("corpus", body)


if __name__ == "__main__":
    main()
