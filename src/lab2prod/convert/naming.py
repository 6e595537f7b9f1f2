"""Dataset names of a conversion: unique in the pipeline, clear of the project's catalog.

A value keeps the name of its variable (``orders``); a later version of it, made by a section
that reassigns or changes it, is named after the variable and that section's node
(``orders_clean_the_data``). Parameters are ``params:<pipeline>.<name>``. A name the project's
catalog already uses is prefixed with the pipeline's name; a read of a file the catalog already
declares, with the same type and load arguments, reuses that entry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab2prod.convert import datasets
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
        self._files = {
            _normal(str(entry.get("filepath"))): (name, _reading(entry))
            for name, entry in existing.items()
            if isinstance(entry, Mapping) and entry.get("filepath")
        }

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
        elif obj.origin == "read" and version == 0:
            name = self._read(obj)
        elif version == 0:
            unit = codes[producer].unit.name
            name = self._unique(obj.base, f"{obj.base}_{unit}", f"{self.pipeline}_{obj.base}")
        else:
            name = self._unique(f"{obj.base}_{codes[producer].unit.name}")
        self.names[key] = name
        self.used.add(name)
        return name

    def _read(self, obj: Obj) -> str:
        assert obj.read is not None and obj.read.read is not None
        read = obj.read.read
        filepath = _project_path(read.path, self.notebook_dir)
        entry = datasets.read_entry(read, filepath)
        known = self._files.get(_normal(filepath))
        if known is not None and known[1] == _reading(entry):
            return known[0]
        name = self._unique(obj.base, f"{self.pipeline}_{obj.base}")
        self.catalog[name] = entry
        return name

    def add_result(self, name: str, value_type: str | None) -> None:
        entry = datasets.result_entry(name, value_type)
        if _normal(entry["filepath"]) in self._files:
            folder, file = entry["filepath"].rsplit("/", 1)
            entry["filepath"] = f"{folder}/{self.pipeline}_{file}"
        self.catalog[name] = entry

    def _unique(self, *candidates: str) -> str:
        """The first candidate no dataset uses yet, else the last one numbered.

        A name the project's catalog already has gets the pipeline's name as a prefix.
        """
        taken = self.used | set(self.existing)
        for candidate in candidates:
            if candidate in self.existing:  # another pipeline's dataset: prefix ours
                candidate = f"{self.pipeline}_{candidate}"
            if candidate not in taken:
                return candidate
        number = 2
        while f"{candidates[-1]}_{number}" in taken:
            number += 1
        return f"{candidates[-1]}_{number}"


def _project_path(path: str, notebook_dir: str) -> str:
    """A path the notebook reads (relative to its folder) relative to the project root."""
    if "://" in path or os.path.isabs(path):
        return path
    return Path(os.path.normpath(Path(notebook_dir) / path)).as_posix()


def _reading(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """What decides the data an entry loads: its type, format and load arguments."""
    return (entry.get("type"), entry.get("file_format"), entry.get("load_args") or {})


def _normal(filepath: str) -> str:
    return Path(os.path.normpath(filepath)).as_posix()
