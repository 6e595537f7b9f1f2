"""Dataset names of a conversion: in the pipeline's namespace, shared only on purpose.

Every dataset a converted pipeline makes lives in the pipeline's Kedro namespace (the pipeline's
name): ``orders`` in the pipeline ``orders_report`` is the dataset ``orders_report.orders``, so
generic names (``df``, ``model``) of two notebooks never meet. A value keeps the name of its
variable; a later version of it, made by a section that reassigns or changes it, is named after
the variable and that section's node (``orders_clean_the_data``). Parameters are
``params:<pipeline>.<name>``. What really is shared keeps a project-wide name: a file the
notebook reads is named after the file (``orders`` for ``data/01_raw/orders.csv``), outside the
namespace, and a read of a file the project's catalog already declares (with the same type and
load arguments) reads that entry; ``catalog.load("name")`` reads ``name``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lab2prod.convert import datasets
from lab2prod.convert.cells import slug
from lab2prod.convert.flow import Obj
from lab2prod.convert.steps import UnitCode


class Naming:
    """Dataset names, unique in the pipeline and clear of the project's other entries."""

    def __init__(
        self, pipeline: str, existing: dict[str, Mapping[str, Any]], notebook: tuple[str, str]
    ) -> None:
        self.pipeline = pipeline
        self.existing = existing
        self.notebook_dir = notebook[1]
        self.names: dict[tuple[int, int], str] = {}
        self.used: set[str] = set()
        self.catalog: dict[str, dict[str, Any]] = {}
        self.figures: set[str] = set()
        self.transcoded: dict[int, str] = {}
        self._files = {
            _normal(str(entry.get("filepath"))): (name, _reading(entry))
            for name, entry in existing.items()
            if isinstance(entry, Mapping) and entry.get("filepath")
        }

    def full(self, local: str) -> str:
        """The project-wide name of a dataset of this pipeline's namespace."""
        return f"{self.pipeline}.{local}"

    def dataset(self, obj: Obj, version: int) -> str:
        return self.names[(obj.serial, version)]

    def name(self, obj: Obj, version: int, codes: list[UnitCode]) -> str:
        key = (obj.serial, version)
        if key in self.names:
            return self.names[key]
        producer = obj.producers[version]
        if obj.origin == "parameter" and version == 0:
            name = f"params:{self.pipeline}.{obj.base}"
        elif obj.origin == "kernel" and version == 0:
            assert obj.read is not None and obj.read.dataset is not None
            name = obj.read.dataset
        elif obj.write is not None and version == 0:
            name = self._written(obj)
        elif obj.origin == "read" and version == 0:
            name = self._read(obj)
        elif version == 0:
            unit = codes[producer].unit.name
            name = self._unique(obj.base, f"{obj.base}_{unit}")
        else:
            name = self._unique(f"{obj.base}_{codes[producer].unit.name}")
        self.names[key] = name
        self.used.add(name)
        return name

    def _written(self, obj: Obj) -> str:
        """A file the notebook writes: named after the file, shared, with the write's entry.

        Reads of it in later sections load it with their arguments; a read of another type
        (written by pandas, read by polars) is another entry of the same file, and both
        names are Kedro transcodings of one dataset (``orders@pandas``, ``orders@polars``),
        so Kedro still runs the writer first.
        """
        write = obj.write
        assert write is not None
        entry = write.write.entry(write.filepath)
        same = [
            r.read
            for r in write.reads
            if datasets.READERS[r.read.function].dataset == entry["type"]
        ]
        if same and same[0].load_args:
            entry["load_args"] = same[0].load_args
        stem = slug(_normal(write.filepath).rsplit("/", 1)[-1].split(".")[0]) or "written"
        name = self._shared(stem)
        if len(same) < len(write.reads):
            self.transcoded[id(write)] = name
            name = f"{name}@{_short(entry['type'])}"
        self.catalog[name] = entry
        self._files[_normal(write.filepath)] = (name, _reading(entry))
        return name

    def _read(self, obj: Obj) -> str:
        """A read's dataset: named after its file, outside the namespace (files are shared)."""
        assert obj.read is not None and obj.read.read is not None
        read = obj.read.read
        written = obj.read.written
        filepath = obj.read.filepath or _project_path(read.path, self.notebook_dir)
        entry = datasets.read_entry(read, filepath)
        if written is not None and id(written) in self.transcoded:
            name = f"{self.transcoded[id(written)]}@{_short(entry['type'])}"
            self.catalog[name] = entry
            return name
        known = self._files.get(_normal(filepath))
        if known is not None and known[1] == _reading(entry):
            return known[0]
        stem = slug(_normal(filepath).rsplit("/", 1)[-1].split(".")[0]) or obj.base
        name = self._shared(stem)
        self.catalog[name] = entry
        self._files[_normal(filepath)] = (name, _reading(entry))
        return name

    def _shared(self, stem: str) -> str:
        """A free name outside the namespace for a file: its stem, else prefixed, numbered."""
        return next(
            candidate
            for candidate in itertools.chain(
                [stem, f"{self.pipeline}_{stem}"], _numbered(f"{self.pipeline}_{stem}")
            )
            if self._free_shared(candidate)
        )

    def add_figures(self, node: str) -> str:
        """The dataset of the figures a node draws, saved as PNGs in a folder of their own."""
        name = self._unique(f"{node}_figures")
        self.used.add(name)
        self.figures.add(name)
        self.catalog[name] = {
            "type": "matplotlib.MatplotlibDataset",
            "filepath": f"data/08_reporting/{self.pipeline}/{node}",
            "overwrite": True,
        }
        return name

    def add_result(self, name: str, value_type: str | None) -> None:
        """A catalog entry that saves the result ``name`` (a full name) by its type."""
        local = name.removeprefix(f"{self.pipeline}.")
        self.catalog[name] = datasets.result_entry(f"{self.pipeline}/{local}", value_type)

    def _unique(self, *candidates: str) -> str:
        """The full name of the first candidate no dataset uses yet, else the last numbered.

        A candidate is taken when a dataset of the namespace has it, and also when a shared
        dataset has it: inside the namespace, both would be written the same way.
        """
        for candidate in itertools.chain(candidates, _numbered(candidates[-1])):
            if self._free(candidate):
                return self.full(candidate)
        raise AssertionError("unreachable")  # pragma: no cover - the numbering never ends

    def _free(self, local: str) -> bool:
        """Whether a dataset of the namespace may be called ``local``."""
        return local not in self.used and self.full(local) not in self.used | set(self.existing)

    def _free_shared(self, name: str) -> bool:
        """Whether a shared dataset may be called ``name`` (nor taken in the namespace)."""
        return name not in self.used | set(self.existing) and self.full(name) not in self.used


def _short(dataset_type: str) -> str:
    """``pandas.CSVDataset`` -> ``pandas``: the transcoding suffix of a dataset type."""
    parts = dataset_type.split(".")
    if parts[0] == "lab2prod":
        return parts[-1].removesuffix("Dataset").lower()
    return parts[0].lower()


def _numbered(name: str) -> Iterator[str]:
    return (f"{name}_{number}" for number in itertools.count(2))


def _project_path(path: str, notebook_dir: str) -> str:
    """A path the notebook reads (relative to its folder) relative to the project root."""
    if "://" in path or os.path.isabs(path):
        return path
    return Path(os.path.normpath(Path(notebook_dir) / path)).as_posix()


_NEUTRAL_TO_PANDAS = frozenset({"self_destruct", "split_blocks", "use_threads"})
"""Options of pyarrow's ``Table.to_pandas`` that change how much memory a read takes, never
the frame it gives: an entry that sets only these reads what the notebook's read does."""


def _reading(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """What decides the data an entry loads: its type, format and load arguments."""
    load_args = dict(entry.get("load_args") or {})
    to_pandas = load_args.get("to_pandas_kwargs")
    if isinstance(to_pandas, Mapping) and set(to_pandas) <= _NEUTRAL_TO_PANDAS:
        del load_args["to_pandas_kwargs"]
    return (entry.get("type"), entry.get("file_format"), load_args)


def _normal(filepath: str) -> str:
    return Path(os.path.normpath(filepath)).as_posix()
