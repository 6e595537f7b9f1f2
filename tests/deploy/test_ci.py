"""The CI definitions: .ci/run, the GitHub Actions workflow and the Jenkinsfile run the same make
targets in the same order, every one of them exists in the Makefile, and the workflow lints clean.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

CI_RUN = ROOT / ".ci/run"
WORKFLOW = ROOT / ".github/workflows/ci.yml"
JENKINSFILE = ROOT / "Jenkinsfile"
ACTIONLINT = Path(sys.executable).with_name("actionlint")

DEFAULT_GOAL = "(default goal)"
"""What a bare ``make`` is recorded as: CI must name its targets, so the Makefile check fails."""
_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "`"}
_SHELL_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "time", "exec"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# make's options whose value is the next word (`make -C dir test`).
_MAKE_OPTIONS_WITH_VALUE = {"-C", "-f", "-I", "-o", "-W", "--directory", "--file", "--makefile"}
_MAKE_OPTIONS_WITH_OPTIONAL_NUMBER = {"-j", "-l", "--jobs", "--load-average"}
_JENKINS_SH = re.compile(
    r"""\bsh\s*\(?\s*(?:script\s*:\s*)?('''|\"\"\"|'|")(?P<script>.*?)\1""", re.DOTALL
)
_GROOVY_COMMENTS = re.compile(r"/\*.*?\*/|^\s*//[^\n]*", re.DOTALL | re.MULTILINE)


def make_targets(script: str) -> list[str]:
    """The make targets a shell script calls, in order.

    Every simple command whose program is ``make`` counts, wherever it sits in a line (after
    ``&&``, ``;``, ``then``, a variable assignment); its options and ``VAR=value`` arguments are
    not targets. Comments and other commands are ignored.
    """
    targets: list[str] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        command: list[str] = []
        for word in [*lexer, ";"]:
            if word in _SEPARATORS:
                targets.extend(_targets_of(command))
                command = []
            else:
                command.append(word)
    return targets


def _targets_of(command: list[str]) -> list[str]:
    words = list(command)
    while words and (words[0] in _SHELL_KEYWORDS or _ASSIGNMENT.match(words[0])):
        words.pop(0)
    if not words or Path(words[0]).name != "make":
        return []
    targets = []
    arguments = iter(words[1:])
    for word in arguments:
        if word in _MAKE_OPTIONS_WITH_VALUE:
            next(arguments, None)
        elif word in _MAKE_OPTIONS_WITH_OPTIONAL_NUMBER:
            continue  # a following number is not a target either (filtered below)
        elif "<" in word or ">" in word:
            next(arguments, None)  # a redirection and its file
        elif word.startswith("-") or _ASSIGNMENT.match(word) or word.isdigit():
            continue
        else:
            targets.append(word)
    return targets or [DEFAULT_GOAL]


def workflow_scripts(text: str) -> list[str]:
    """The ``run:`` scripts of a GitHub Actions workflow, job by job, step by step."""
    workflow = yaml.safe_load(text)
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


def jenkins_scripts(text: str) -> list[str]:
    """The scripts of a Jenkinsfile's ``sh`` steps, in file order, comments left out."""
    code = _GROOVY_COMMENTS.sub("", text)
    return [match["script"] for match in _JENKINS_SH.finditer(code)]


def ci_targets() -> dict[str, list[str]]:
    """The make targets each CI definition calls, in order."""
    workflow = WORKFLOW.read_text()
    jenkinsfile = JENKINSFILE.read_text()
    return {
        ".ci/run": make_targets(CI_RUN.read_text()),
        ".github/workflows/ci.yml": [
            t for s in workflow_scripts(workflow) for t in make_targets(s)
        ],
        "Jenkinsfile": [t for s in jenkins_scripts(jenkinsfile) for t in make_targets(s)],
    }


def makefile_targets() -> dict[str, bool]:
    """Every target the Makefile defines, mapped to whether it is phony, from make's database."""
    result = subprocess.run(
        ["make", "--print-data-base", "--question", "--no-builtin-rules", "-f", "Makefile"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "# Files" in result.stdout, result.stderr
    files = result.stdout.split("# Files", 1)[1].split("# files hash-table stats", 1)[0]
    targets = {}
    for block in files.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or lines[0] == "# Not a target:":
            continue
        rule = next((line for line in lines if not line.startswith("#")), None)
        if rule and (match := re.match(r"^([^\s:=#][^:=]*?):(?!=)", rule)):
            targets[match[1]] = any("Phony target" in line for line in lines)
    return targets


@pytest.mark.parametrize(
    ("script", "targets"),
    [
        ("make test", ["test"]),
        ("make test && make lint\nmake bento", ["test", "lint", "bento"]),
        ("make test > test.log 2>&1", ["test"]),
        ("make test ARGS=\"-m 'not slow'\"", ["test"]),
        ("make -C . -j 2 --keep-going smoke EXTRAS=tracking", ["smoke"]),
        ("cd somewhere; make notebook-check || exit 1", ["notebook-check"]),
        ("if true; then make smoke; fi", ["smoke"]),
        ("KEDRO_ENV=ci make \\\n  test", ["test"]),
        ("# make lint\necho make lint  # make bento", []),
        ('set -euo pipefail\ncd "$(dirname "$0")/.."', []),
        ("make", [DEFAULT_GOAL]),
    ],
)
def test_make_targets_are_read_from_shell_as_make_reads_them(script, targets):
    """Calls after `&&`, `;`, `then`, assignments and line continuations count; comments,
    options, variables and `echo make` do not."""
    assert make_targets(script) == targets


def test_jenkins_sh_steps_are_found_in_every_quoting_and_not_in_comments():
    """`sh '...'`, `sh "..."`, `sh '''...'''` and `sh(script: ...)` count; commented-out do not."""
    jenkinsfile = """
        stage('a') { steps { sh 'make one' } }
        stage('b') { steps { sh "make two" } }
        // stage('c') { steps { sh 'make commented' } }
        /* sh 'make block-commented' */
        stage('d') { steps { sh '''
            make three
            make four
        ''' } }
        stage('e') { steps { sh(script: 'make five', returnStatus: true) } }
    """
    scripts = jenkins_scripts(jenkinsfile)
    assert [t for s in scripts for t in make_targets(s)] == ["one", "two", "three", "four", "five"]


def test_ci_definitions_run_the_same_make_targets_in_the_same_order():
    """.ci/run, the GitHub workflow and the Jenkinsfile cannot drift apart."""
    targets = ci_targets()
    assert targets[".ci/run"], "no make target found in .ci/run"
    assert targets[".github/workflows/ci.yml"] == targets[".ci/run"], targets
    assert targets["Jenkinsfile"] == targets[".ci/run"], targets


def test_a_target_added_to_one_definition_only_is_drift(tmp_path):
    """The comparison sees a step added to the workflow alone (the parse is not a fixed list)."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    job["steps"].append({"name": "Lint", "run": "make lint"})
    changed = [t for s in workflow_scripts(yaml.safe_dump(workflow)) for t in make_targets(s)]
    assert changed == [*ci_targets()[".ci/run"], "lint"]


def test_every_target_ci_calls_is_a_phony_target_of_the_makefile():
    """A renamed or removed target fails here, not on the CI server; phony, so that a stray file
    named like the target cannot make CI skip the step."""
    defined = makefile_targets()
    assert {"test", "lint", "install"} <= defined.keys()  # the parse reads the real Makefile
    called = {target for targets in ci_targets().values() for target in targets}
    missing = sorted(called - defined.keys())
    assert not missing, f"CI calls make targets the Makefile does not define: {missing}"
    not_phony = sorted(target for target in called if not defined[target])
    assert not not_phony, f"add these to .PHONY in the Makefile: {not_phony}"


def test_setup_python_gives_the_interpreter_the_makefile_installs_with():
    """Both CIs give the Python `uv sync --python 3.11` needs and the Node.js the extension's build
    needs (the workflow through setup-python and setup-node, Jenkins through its image)."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    (setup,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
    assert str(setup["with"]["python-version"]) == "3.11"
    assert "--python 3.11" in (ROOT / "Makefile").read_text()
    (node,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-node@")]
    node_major = str(node["with"]["node-version"])
    image = f"image 'nikolaik/python-nodejs:python3.11-nodejs{node_major}'"
    assert image in JENKINSFILE.read_text()


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """``actionlint`` on one workflow file, one finding per line."""
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-oneline", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_workflow_passes_actionlint():
    """Syntax, expressions, runner labels and action inputs of the workflow are valid."""
    result = actionlint(WORKFLOW)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("original", "broken", "finding"),
    [
        ("runs-on: ubuntu-24.04", "runs-on: ubuntu-lates", 'label "ubuntu-lates" is unknown'),
        ("${{ github.ref }}", "${{ githb.ref }}", 'undefined variable "githb"'),
        ("python-version:", "python_version:", 'input "python_version" is not defined'),
        (
            "uses: actions/cache@v5",
            "uses: actions/cache@v1",
            'the runtime or service used by "actions/cache@v1" action is retired',
        ),
        (
            "  workflow_dispatch:",
            "  workflow_dispatched:",
            'unknown Webhook event "workflow_dispatched"',
        ),
    ],
)
def test_actionlint_catches_a_broken_copy_of_the_workflow(tmp_path, original, broken, finding):
    """The lint test above cannot pass vacuously: one edit to the real workflow is reported."""
    text = WORKFLOW.read_text()
    assert original in text
    path = tmp_path / ".github/workflows/ci.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace(original, broken, 1))
    result = actionlint(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert finding in result.stdout
