"""Code fingerprints of Kedro nodes: what a node runs, not how its source is laid out.

A node's fingerprint covers

- the normalised AST of its function (docstrings dropped; comments, blank lines and line
  numbers never reach the AST) and, transitively, of every project function and class it
  refers to: by name, through a module attribute (``helpers.clean``), a decorator, a base
  class, a default value, an import inside the function, or a closure;
- the value of each project module constant it reads (``FEATURES = [...]``);
- the versions of the third-party distributions those functions and their modules import
  (``scikit-learn``, ``pandas``), and Python's version;
- for a ``notebook_node``: the notebook's code cells (IPython syntax turned into Python, then
  normalised the same way), its literal parameters and its kernel (Python and ipykernel).

"Project code" is every module of the Kedro project's package, and every module whose file
lies under the project's source folder (``src/``); anything else is a third-party distribution,
known by its version. What cannot be followed statically (a method called on a value:
``frame.assign``) belongs to the value's library, whose version is recorded.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import json
import marshal
import platform
import sys
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path
from typing import Any

_LITERALS = (str, int, float, bool, type(None), tuple, list, dict, frozenset, set)


@dataclass(frozen=True)
class CodeFingerprint:
    """What a node runs.

    Attributes:
        digest: Changes when any part below does.
        functions: Digest of each project function or class followed, by qualified name
            (``module.qualname``), and of each project constant read.
        packages: Version of each third-party distribution imported on the way.
        root: The qualified name of the node's own function.
    """

    digest: str
    functions: dict[str, str]
    packages: dict[str, str | None]
    root: str

    def as_dict(self) -> dict[str, Any]:
        """The fingerprint as JSON."""
        return {
            "digest": self.digest,
            "root": self.root,
            "functions": self.functions,
            "packages": self.packages,
        }


def code_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two recorded fingerprints, one phrase each ("code of X changed")."""
    changes = []
    root = new.get("root", "")
    old_functions, new_functions = old.get("functions", {}), new.get("functions", {})
    for name in sorted(set(old_functions) | set(new_functions)):
        before, after = old_functions.get(name), new_functions.get(name)
        if before == after:
            continue
        short = _short(name)
        if name == root:
            changes.append(f"code of {short} changed")
        elif before is None:
            changes.append(f"code of {_short(root)} now uses {short}")
        elif after is None:
            changes.append(f"code of {_short(root)} no longer uses {short}")
        else:
            changes.append(f"code of {short} (used by {_short(root)}) changed")
    old_packages, new_packages = old.get("packages", {}), new.get("packages", {})
    for name in sorted(set(old_packages) | set(new_packages)):
        before, after = old_packages.get(name), new_packages.get(name)
        if before != after:
            changes.append(f"package {name} changed ({before} -> {after})")
    if not changes and old.get("digest") != new.get("digest"):
        changes.append(f"code of {_short(root)} changed")
    return changes


def _short(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1] if "." in qualified else qualified


class CodeScanner:
    """Fingerprints node functions; one per run, memoising what it has read.

    Args:
        package: The Kedro project's package (``fraud_detection``).
        source_dir: The project's source folder: any module under it is project code.
    """

    def __init__(self, *, package: str | None, source_dir: Path | None) -> None:
        self.package = package
        self.source_dir = source_dir.resolve() if source_dir is not None else None
        self._objects: dict[int, tuple[str, dict[str, str], dict[str, str | None]]] = {}
        self._modules: dict[str, set[str]] = {}
        self._distributions: dict[str, list[str]] | None = None
        self._project_modules: dict[str, bool] = {}

    # --- entry point -------------------------------------------------------------------------

    def fingerprint(self, func: Callable[..., Any]) -> CodeFingerprint:
        """The fingerprint of a node's function (a function, partial, callable object or
        notebook node)."""
        functions: dict[str, str] = {}
        packages: dict[str, str | None] = {}
        root = self._visit(func, functions, packages, set())
        body = {
            "functions": functions,
            "packages": packages,
            "python": platform.python_version(),
        }
        digest = "sha256:" + hashlib.sha256(_json(body).encode()).hexdigest()
        return CodeFingerprint(
            digest=digest, functions=dict(sorted(functions.items())), packages=packages, root=root
        )

    # --- objects -----------------------------------------------------------------------------

    def _visit(
        self,
        obj: Any,
        functions: dict[str, str],
        packages: dict[str, str | None],
        seen: set[int],
    ) -> str:
        """Add ``obj`` and what it uses; return the name it is recorded under."""
        from lab2prod.execute.node import NotebookRun

        if isinstance(obj, NotebookRun):
            return self._notebook(obj, functions, packages)
        if isinstance(obj, functools.partial):
            name = self._visit(obj.func, functions, packages, seen)
            functions[f"{name}(partial)"] = _digest(
                {"args": _safe_plain(obj.args), "keywords": _safe_plain(obj.keywords)}
            )
            return name
        if isinstance(obj, types.MethodType):
            obj = obj.__func__
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        if not (inspect.isfunction(obj) or isinstance(obj, type)) and callable(obj):
            # A callable object: its class's code and, for a project class, its own state (a
            # library's callable, numpy's ufunc, is known by the library's version).
            name = self._visit(type(obj), functions, packages, seen)
            state = getattr(obj, "__dict__", None)
            if state is not None and self._is_project(type(obj).__module__):
                functions[f"{name}(instance)"] = _digest(_safe_plain(state))
            return name
        name = _qualified(obj)
        module = getattr(obj, "__module__", None) or ""
        if not self._is_project(module):
            self._add_package(module, packages)
            return name
        if id(obj) in seen:
            return name
        seen.add(id(obj))
        digest, references, imported = self._read(obj)
        functions[name] = digest
        for package in imported:
            self._add_package(package, packages)
        for package in self._module_imports(module):
            self._add_package(package, packages)
        namespace = _namespace(obj)
        for chain in references:
            target = _resolve(chain, namespace)
            if target is _MISSING:
                continue
            self._visit_reference(chain, target, functions, packages, seen, namespace, module)
        return name

    def _visit_reference(
        self,
        chain: tuple[str, ...],
        target: Any,
        functions: dict[str, str],
        packages: dict[str, str | None],
        seen: set[int],
        namespace: dict[str, Any],
        namespace_name: str,
    ) -> None:
        if isinstance(target, types.ModuleType):
            if not self._is_project(target.__name__):
                self._add_package(target.__name__, packages)
            return
        if inspect.isfunction(target) or isinstance(target, type) or callable(target):
            if isinstance(target, types.BuiltinFunctionType | types.BuiltinMethodType):
                self._add_package(getattr(target, "__module__", None) or "", packages)
                return
            self._visit(target, functions, packages, seen)
            return
        owner = getattr(target, "__module__", None)
        if isinstance(target, _LITERALS):
            # A project constant (``LIMIT``, ``helpers.LIMIT``); a library's (``np.pi``) is
            # covered by the library's version.
            if self._constant_is_project(chain, namespace):
                functions[f"{namespace_name}:{'.'.join(chain)}"] = _digest(_safe_plain(target))
        elif owner is not None:
            self._add_package(owner, packages)

    def _constant_is_project(self, chain: tuple[str, ...], namespace: dict[str, Any]) -> bool:
        if len(chain) == 1:
            return True  # a global of the (project) module reading it
        owner = namespace.get(chain[0])
        for attribute in chain[1:-1]:
            owner = getattr(owner, attribute, None)
        if isinstance(owner, types.ModuleType):
            return self._is_project(owner.__name__)
        return self._is_project(getattr(owner, "__module__", "") or "")

    def _read(self, obj: Any) -> tuple[str, list[tuple[str, ...]], set[str]]:
        """``(digest, names it refers to, modules it imports)`` of a function or class."""
        memo = self._objects.get(id(obj))
        if memo is not None:
            return memo  # type: ignore[return-value]
        try:
            source = textwrap.dedent(inspect.getsource(obj))
            tree = ast.parse(source)
        except (OSError, TypeError, SyntaxError):
            # No source (a lambda inside an expression, code made at run time): its bytecode,
            # line numbers left out.
            code = getattr(obj, "__code__", None)
            if code is None:
                result = (_digest(repr(obj)), [], set())
            else:
                normal = marshal.dumps(_without_lines(code))
                result = (
                    "sha256:" + hashlib.sha256(normal).hexdigest(),
                    [(name,) for name in code.co_names],
                    set(),
                )
            self._objects[id(obj)] = result  # type: ignore[assignment]
            return result
        _drop_docstrings(tree)
        digest = "sha256:" + hashlib.sha256(ast.dump(tree).encode()).hexdigest()
        references, imported = _references(tree, getattr(obj, "__module__", "") or "")
        result = (digest, references, imported)
        self._objects[id(obj)] = result  # type: ignore[assignment]
        return result

    def _notebook(
        self, run: Any, functions: dict[str, str], packages: dict[str, str | None]
    ) -> str:
        from lab2prod.magics import split_ipython
        from lab2prod.notebook import read_notebook

        notebook = read_notebook(run.path)
        cells = []
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            python, _ = split_ipython(cell.source)
            try:
                tree = ast.parse(python)
            except SyntaxError:
                cells.append(cell.source)
                continue
            _drop_docstrings(tree)
            cells.append(ast.dump(tree))
            for module in _references(tree, "")[1]:
                self._add_package(module, packages)
        name = f"notebook:{self._relative(run.path)}"
        functions[name] = _digest(
            {"cells": cells, "literals": _safe_plain(run.literals), "outputs": list(run.outputs)}
        )
        for package in ("ipykernel", "papermill", "lab2prod"):
            packages[package] = _version(package)
        return name

    # --- project or third party ---------------------------------------------------------------

    def _is_project(self, module: str) -> bool:
        if not module or module == "__main__":
            return module == "__main__"
        known = self._project_modules.get(module)
        if known is not None:
            return known
        result = False
        if self.package and (module == self.package or module.startswith(self.package + ".")):
            result = True
        elif self.source_dir is not None:
            file = getattr(sys.modules.get(module), "__file__", None)
            if file:
                path = Path(file).resolve()
                result = path.is_relative_to(self.source_dir) and "site-packages" not in path.parts
        self._project_modules[module] = result
        return result

    def _module_imports(self, module: str) -> set[str]:
        """The modules ``module`` imports at its top level."""
        found = self._modules.get(module)
        if found is not None:
            return found
        found = set()
        loaded = sys.modules.get(module)
        try:
            tree = ast.parse(inspect.getsource(loaded)) if loaded is not None else None
        except (OSError, TypeError, SyntaxError):
            tree = None
        if tree is not None:
            for statement in tree.body:
                found |= _imports_of(statement, module)
        self._modules[module] = found
        return found

    def _add_package(self, module: str, packages: dict[str, str | None]) -> None:
        top = module.split(".", 1)[0]
        if not top or top in sys.stdlib_module_names or top == "builtins":
            return
        if self._is_project(top) or (self.package and top == self.package):
            return
        if self._distributions is None:
            self._distributions = packages_distributions()
        for distribution in self._distributions.get(top, [top]):
            packages[distribution] = _version(distribution)

    def _relative(self, path: Path) -> str:
        if self.source_dir is not None:
            try:
                return path.resolve().relative_to(self.source_dir.parent).as_posix()
            except ValueError:
                pass
        return path.as_posix()


# --- AST -------------------------------------------------------------------------------------

_MISSING = object()
_SCOPES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _drop_docstrings(tree: ast.AST) -> None:
    for scope in ast.walk(tree):
        if not isinstance(scope, _SCOPES) or not scope.body:
            continue
        first = scope.body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            scope.body = scope.body[1:] or [ast.Pass()]


def _references(tree: ast.AST, module: str) -> tuple[list[tuple[str, ...]], set[str]]:
    """Dotted names read (``("helpers", "clean")``) and modules imported, in ``tree``."""
    chains: list[tuple[str, ...]] = []
    seen: set[tuple[str, ...]] = set()
    imported: set[str] = set()
    inner: set[int] = set()
    for item in ast.walk(tree):
        if isinstance(item, ast.Import | ast.ImportFrom):
            imported |= _imports_of(item, module)
            if isinstance(item, ast.ImportFrom):
                base = _absolute(item, module)
                for alias in item.names:
                    chain = ("<import>", base, alias.name)
                    if chain not in seen:
                        seen.add(chain)
                        chains.append(chain)
            continue
        if isinstance(item, ast.Attribute) and id(item) not in inner:
            chain = _chain(item, inner)
            if chain is not None and chain not in seen:
                seen.add(chain)
                chains.append(chain)
        elif isinstance(item, ast.Name) and id(item) not in inner:
            chain = (item.id,)
            if chain not in seen:
                seen.add(chain)
                chains.append(chain)
    return chains, imported


def _chain(item: ast.Attribute, inner: set[int]) -> tuple[str, ...] | None:
    parts = []
    current: ast.expr = item
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        inner.add(id(current))
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    inner.add(id(current))
    parts.append(current.id)
    return tuple(reversed(parts))


def _imports_of(statement: ast.stmt, module: str) -> set[str]:
    if isinstance(statement, ast.Import):
        return {alias.name for alias in statement.names}
    if isinstance(statement, ast.ImportFrom):
        base = _absolute(statement, module)
        return {base} if base else set()
    return set()


def _absolute(statement: ast.ImportFrom, module: str) -> str:
    if not statement.level:
        return statement.module or ""
    parent = module.rsplit(".", statement.level)[0] if module else ""
    return f"{parent}.{statement.module}" if statement.module else parent


def _namespace(obj: Any) -> dict[str, Any]:
    """The names ``obj``'s code sees: its closure, then its module's globals."""
    names: dict[str, Any] = {}
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    if module is not None:
        names.update(vars(module))
    if inspect.isfunction(obj):
        names.update(obj.__globals__)
        if obj.__closure__:
            for name, cell in zip(obj.__code__.co_freevars, obj.__closure__, strict=False):
                try:
                    names[name] = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
    return names


def _resolve(chain: tuple[str, ...], namespace: dict[str, Any]) -> Any:
    if chain[0] == "<import>":
        module = sys.modules.get(chain[1])
        if module is None:
            return _MISSING
        target = getattr(module, chain[2], _MISSING)
        if target is _MISSING:
            target = sys.modules.get(f"{chain[1]}.{chain[2]}", _MISSING)
        return target
    target = namespace.get(chain[0], _MISSING)
    for attribute in chain[1:]:
        if not isinstance(target, types.ModuleType | type):
            break
        following = getattr(target, attribute, _MISSING)
        if following is _MISSING:
            break
        target = following
    return target


def _without_lines(code: types.CodeType) -> types.CodeType:
    consts = tuple(
        _without_lines(const) if isinstance(const, types.CodeType) else const
        for const in code.co_consts
    )
    return code.replace(co_consts=consts, co_firstlineno=1, co_linetable=b"")


def _qualified(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _safe_plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON that is the same in every process: literals as they are, pydantic
    models and dataclasses dumped, any other object by its type alone (never its ``repr``,
    which may hold a memory address)."""
    from dataclasses import asdict, is_dataclass

    if depth > 20:
        return "..."
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "model_dump") and not isinstance(value, type):
        try:
            return value.model_dump(mode="json")
        except (TypeError, ValueError):
            return _qualified(type(value))
    if is_dataclass(value) and not isinstance(value, type):
        return _safe_plain(asdict(value), depth + 1)
    if isinstance(value, dict):
        return {str(key): _safe_plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe_plain(item, depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(str(_safe_plain(item, depth + 1)) for item in value)
    if isinstance(value, Path):
        return value.as_posix()
    return _qualified(type(value))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(_json(value).encode()).hexdigest()


@functools.cache
def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
