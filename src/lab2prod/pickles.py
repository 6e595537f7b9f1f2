"""Kedro's pickle dataset, refusing to unpickle a file it did not write.

:class:`ChecksummedPickleDataset` (catalog type ``lab2prod.pickles.ChecksummedPickleDataset``) is
``pickle.PickleDataset`` with the SHA-256 of each file written beside it (``<file>.sha256``) and
checked before every load (``lab2prod.checksums``): a model file altered or replaced after
training is refused instead of unpickled. A module of its own: it imports kedro-datasets, which
a served bento does not carry.
"""

from __future__ import annotations

import importlib
import io
from typing import Any

from kedro.io.core import get_filepath_str
from kedro_datasets.pickle import PickleDataset

from lab2prod.checksums import digest, verified

__all__ = ["ChecksummedPickleDataset"]


class ChecksummedPickleDataset(PickleDataset):
    """``pickle.PickleDataset`` that refuses to unpickle a file it did not write.

    Each save writes ``<file>.sha256`` beside the file (in the version's folder when
    versioned); each load reads the file's bytes, checks them against it, and unpickles those
    bytes. Takes the same arguments as ``PickleDataset``. Catalog type:
    ``lab2prod.pickles.ChecksummedPickleDataset``.

    Raises:
        IntegrityError: On load (wrapped by Kedro in a ``DatasetError``), if the file has no
            digest beside it or does not match it.
    """

    def load(self) -> Any:
        path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(path, mode="rb") as file:
            data = file.read()
        recorded = self._sidecar(path)
        expected = None
        if self._fs.exists(recorded):
            with self._fs.open(recorded, mode="r") as file:
                expected = file.read().strip()
        content = verified(
            path,
            expected,
            data=data,
            fix="Run the pipeline that writes it again (kedro run), or restore the file.",
        )
        backend = importlib.import_module(self._backend)
        return backend.load(io.BytesIO(content), **self._load_args)

    def save(self, data: Any) -> None:
        buffer = io.BytesIO()
        backend = importlib.import_module(self._backend)
        backend.dump(data, buffer, **self._save_args)
        content = buffer.getvalue()
        path = get_filepath_str(self._get_save_path(), self._protocol)
        with self._fs.open(path, mode="wb") as file:
            file.write(content)
        with self._fs.open(self._sidecar(path), mode="w") as file:
            file.write(digest(content) + "\n")
        self._invalidate_cache()

    @staticmethod
    def _sidecar(path: str) -> str:
        return f"{path}.sha256"
