"""The generated pipeline among the project's registered ones, checked as Kedro checks them.

A generated file that Kedro rejects breaks every ``kedro`` command of the project, so nothing
is written before ``check_in_project`` passes. It builds, in memory, the generated
``create_pipeline()`` from the generated text, then the project's ``register_pipelines()``
with the generated package in place of whatever is on disk (an import hook serves the
generated modules; the project's files are not touched), and checks what Kedro checks when it
builds and runs them: unique node names, one producer per dataset, no cycles (Kedro's own
``Pipeline`` constructor and ``+``), configuration files that load together (no key declared
twice), every dataset type importable, and every input of the new pipeline in the catalog or
the parameters, so that ``kedro run --pipeline NAME`` finds it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import shutil
import sys
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab2prod.errors import ConversionError, GeneratedPipelineError, did_you_mean

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

    from lab2prod.convert.project import Generated, Project

_BUG = (
    "lab2prod generated a pipeline that Kedro would reject: this is a bug in the converter, "
    "not in your notebook. Nothing was written; the project is unchanged and every `kedro` "
    "command still works. Please report it with the notebook."
)


def check_in_project(project: Project, generated: Generated, *, env: str | None = None) -> None:
    """Fail unless the generated pipeline and the project's pipelines pass Kedro's checks.

    Args:
        project: The project the files would be written into.
        generated: The conversion, in memory.
        env: The configuration environment whose catalog and parameters count.

    Raises:
        GeneratedPipelineError: The generated files would make Kedro fail (a converter bug).
        ConversionError: The project's own pipelines fail to load without the generated one,
            so it cannot be checked.
    """
    plan = generated.plan
    try:
        own = load_generated(generated)
    except ModuleNotFoundError as exc:
        raise _not_installed(plan.notebook, exc) from exc
    except Exception as exc:
        raise _bug(plan.notebook, exc) from exc
    with overlay(project, generated):
        try:
            registered = _register(project)
        except Exception as exc:
            failure = exc
        else:
            failure = None
    if isinstance(failure, ImportError) and isinstance(failure.__cause__, ModuleNotFoundError):
        raise _not_installed(plan.notebook, failure.__cause__) from failure
    if failure is not None:
        try:
            _register(project)
        except Exception as exc:
            raise ConversionError(
                f"The project's pipelines fail to load even without this conversion "
                f"({type(exc).__name__}: {exc}). Fix that first: lab2prod checks a new "
                "pipeline against the registered ones before writing it. Nothing was written.",
                notebook=plan.notebook,
                cell=None,
                line=None,
                construct="project pipelines",
            ) from exc
        raise _bug(plan.notebook, failure) from failure
    _check_together(plan.notebook, plan.pipeline, own, registered)
    _check_inputs(project, generated, own, env)


def load_generated(generated: Generated) -> Pipeline:
    """The generated ``create_pipeline()``, built from the generated text, not from the disk.

    Raises:
        Exception: Whatever the generated code or Kedro's ``Pipeline`` raises.
    """
    pipeline = generated.plan.pipeline
    package = f"_lab2prod_generated_{pipeline}"
    modules = _modules(generated, package)
    finder = _Finder(modules)
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module(f"{package}.pipeline")
        return module.create_pipeline()
    finally:
        sys.meta_path.remove(finder)
        for name in modules:
            sys.modules.pop(name, None)


@contextmanager
def overlay(project: Project, generated: Generated) -> Iterator[None]:
    """Import the project's package with the generated pipeline package served from memory.

    Modules of the package imported before are set aside and put back afterwards; the project's
    source folder comes first on ``sys.path`` meanwhile, and Kedro's ``PACKAGE_NAME`` names
    the project, as ``bootstrap_project`` would.
    """
    import kedro.framework.project as kedro_project

    package = project.package
    source = str((project.path / project.source_dir).resolve())
    modules = _modules(generated, f"{package}.pipelines.{generated.plan.pipeline}")
    finder = _Finder(modules)
    saved = {
        name: module
        for name, module in sys.modules.items()
        if name == package or name.startswith(f"{package}.")
    }
    saved_path = list(sys.path)
    saved_name = kedro_project.PACKAGE_NAME
    saved_requested = kedro_project.pipelines._requested_pipelines
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, source)
    sys.meta_path.insert(0, finder)
    kedro_project.PACKAGE_NAME = package
    kedro_project.pipelines._requested_pipelines = None
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.path[:] = saved_path
        kedro_project.PACKAGE_NAME = saved_name
        kedro_project.pipelines._requested_pipelines = saved_requested


def _register(project: Project) -> dict[str, Pipeline]:
    """The project's ``register_pipelines()``, imported afresh."""
    sys.modules.pop(f"{project.package}.pipeline_registry", None)
    registry = importlib.import_module(f"{project.package}.pipeline_registry")
    return dict(registry.register_pipelines())


def _check_together(
    notebook: str, name: str, own: Pipeline, registered: dict[str, Pipeline]
) -> None:
    """The new pipeline added to the others, as a ``__default__`` summing them all would."""
    others = {k: v for k, v in sorted(registered.items()) if k not in ("__default__", name)}
    try:
        total = sum(others.values(), type(own)([]))
        total + own
    except Exception:
        pass
    else:
        return
    for other, pipeline in others.items():
        try:
            pipeline + own
        except Exception as exc:
            raise _bug(notebook, exc, (other,)) from exc


def _check_inputs(project: Project, generated: Generated, own: Pipeline, env: str | None) -> None:
    """Configuration loads with the generated files; each input of the pipeline is declared."""
    from kedro.io import DataCatalog

    plan = generated.plan
    with _configuration(project, generated, env) as config:
        try:
            catalog_config = _section(config, "catalog")
            parameters = _section(config, "parameters")
            credentials = _section(config, "credentials")
        except Exception as exc:  # OmegaConf's and Kedro's errors have no common base
            raise _bug(plan.notebook, exc) from exc
    memory = f"{plan.pipeline}.{{name}}"
    declared = DataCatalog.from_config(
        {k: v for k, v in catalog_config.items() if k != memory}, credentials
    )
    missing = []
    for name in sorted(own.inputs()):
        if name.startswith("params:"):
            value: Any = parameters
            for key in name.removeprefix("params:").split("."):
                if not isinstance(value, dict) or key not in value:
                    missing.append(name)
                    break
                value = value[key]
        elif name not in declared:
            missing.append(name)
    for name in missing:
        if name in plan.loads:
            raise _undeclared(plan, name, [k for k in catalog_config if "{" not in k])
    if missing:
        raise _bug(
            plan.notebook,
            ValueError(
                f"Pipeline input(s) {missing} are neither produced by the pipeline nor declared "
                "in the catalog or parameters"
            ),
        )
    own_entries = {k: v for k, v in catalog_config.items() if k in plan.catalog}
    try:
        catalog = DataCatalog.from_config(own_entries, credentials)
        for name in own_entries:
            catalog.get(name)
    except Exception as exc:
        raise _bug(plan.notebook, exc) from exc


def _section(config: Any, key: str) -> dict[str, Any]:
    """A configuration key as ``KedroContext`` reads it: no files of that kind is empty."""
    from kedro.config import MissingConfigException

    try:
        return dict(config[key])
    except MissingConfigException:
        return {}


@contextmanager
def _configuration(project: Project, generated: Generated, env: str | None) -> Iterator[Any]:
    """The project's configuration loader over a copy of ``conf/`` with the generated files."""

    with tempfile.TemporaryDirectory(prefix="lab2prod-check-") as scratch:
        conf = Path(scratch) / "conf"
        source = project.path / "conf"
        if source.is_dir():
            shutil.copytree(source, conf)
        for relative, text in generated.files.items():
            if relative.startswith("conf/"):
                target = Path(scratch) / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        conf.joinpath("base").mkdir(parents=True, exist_ok=True)
        conf.joinpath("local").mkdir(parents=True, exist_ok=True)
        loader_class, arguments = _loader_settings(project)
        yield loader_class(str(conf), env=env, **arguments)


def _loader_settings(project: Project) -> tuple[type, dict[str, Any]]:
    """The project's config loader and its arguments when it is the bootstrapped project."""
    import kedro.framework.project as kedro_project
    from kedro.config import OmegaConfigLoader

    if project.package == kedro_project.PACKAGE_NAME:
        settings = kedro_project.settings
        return settings.CONFIG_LOADER_CLASS, dict(settings.CONFIG_LOADER_ARGS)
    return OmegaConfigLoader, {"base_env": "base", "default_run_env": "local"}


def _undeclared(plan: Any, name: str, declared: list[str]) -> ConversionError:
    """A dataset the notebook loads from the project's catalog, which does not declare it."""
    variable, cell, line, text = plan.loads[name]
    hint = did_you_mean(name, declared, sentence=True, code=True)
    hint = f" {hint}" if hint else ""
    return ConversionError(
        f"{plan.notebook}, code cell {cell}, line {line}: `{variable}` reads the dataset "
        f"`{name}` (`{text}`), which no section makes and the project's catalog does not "
        f'declare, so `kedro run` would fail with "Pipeline input(s) ... not found".{hint} '
        "Declare it in conf/base/catalog.yml, or read the file with a literal path "
        '(`pd.read_csv("../data/01_raw/file.csv")`). Nothing was written.',
        notebook=plan.notebook,
        cell=cell,
        line=line,
        construct="undeclared dataset",
    )


def _not_installed(notebook: str, exc: ModuleNotFoundError) -> ConversionError:
    return ConversionError(
        f"{notebook}: the generated nodes import `{exc.name}`, which is not installed in this "
        f"environment ({sys.executable}), so every `kedro` command of the project would fail. "
        f"Add it to the project's dependencies and install it, then convert again. Nothing "
        "was written.",
        notebook=notebook,
        cell=None,
        line=None,
        construct="missing package",
    )


def _bug(notebook: str, exc: BaseException, others: tuple[str, ...] = ()) -> GeneratedPipelineError:
    named = ", ".join(repr(o) for o in others)
    where = f" (with the registered pipeline {named})" if others else ""
    text = " ".join(str(exc).split())
    return GeneratedPipelineError(
        f"{notebook}: {_BUG}\nKedro says{where}: {type(exc).__name__}: {text}",
        notebook=notebook,
        kedro_error=f"{type(exc).__name__}: {text}",
        pipelines=others,
    )


def _modules(generated: Generated, package: str) -> dict[str, tuple[str, str, bool]]:
    """The generated package's modules: full name to (path, source, is a package)."""
    pipeline = generated.plan.pipeline
    found: dict[str, tuple[str, str, bool]] = {}
    for relative, text in generated.files.items():
        parts = relative.split("/")
        if len(parts) < 2 or parts[-2] != pipeline or "pipelines" not in parts[:-2]:
            continue
        if not relative.endswith(".py") or relative.startswith("tests/"):
            continue
        stem = parts[-1].removesuffix(".py")
        if stem == "__init__":
            found[package] = (relative, text, True)
        else:
            found[f"{package}.{stem}"] = (relative, text, False)
    found.setdefault(package, ("__init__.py", "", True))
    return found


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves modules from text: the generated package, before any file on disk."""

    def __init__(self, modules: dict[str, tuple[str, str, bool]]) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        origin, _, package = self.modules[fullname]
        spec = importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=package)
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        origin, source, _ = self.modules[module.__name__]
        module.__file__ = origin
        exec(compile(source, origin, "exec"), module.__dict__)
