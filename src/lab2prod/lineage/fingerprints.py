"""Content fingerprints of catalog datasets, computed from their files, never by loading them.

A fingerprint is a small JSON dict whose ``digest`` changes when the content does:

- a local file: ``size``, ``mtime`` and the SHA-256 of its bytes (streamed). The hash is kept
  in a memo (:class:`FileMemo`) under the file's size, modification and change times and inode,
  as git's index and DVC's state do, so an unchanged file is hashed once; a file rewritten with
  the same bytes keeps its digest, a same-size replacement does not;
- a remote file: the content checksum the storage keeps (S3's ``ETag``, GCS's ``md5Hash`` or
  ``crc32c``, ...) from one ``info`` call; where the backend offers none, its bytes, streamed;
- a folder (partitioned data, a dict of figures): the digest of its files' paths and digests;
- a model in the BentoML model store (``BentoModelDataset``): the version ``latest`` names and
  the SHA-256 of its ``package.json`` (which holds each artifact's SHA-256).

Which datasets can be fingerprinted, and how, is a registry keyed by class (:func:`register`);
a dataset class may also define ``fingerprint(self) -> dict | None`` itself. In-memory datasets
are fingerprinted by the node that makes them (a digest of its code, parameters and inputs),
or by content when small and plain (:func:`small_value_digest`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

Fingerprint = dict[str, Any]
"""``{"digest": ..., ...}``: equal digests mean equal content."""

_CHUNK = 1 << 20
_REMOTE_CHECKSUM_KEYS = ("ETag", "etag", "md5Hash", "crc32c", "content_md5", "checksum")


class FileMemo:
    """SHA-256 digests of local files, keyed by what changes when a file is written.

    The key is (size, mtime_ns, ctime_ns, inode): editing a file in place, replacing it by a
    rename, or restoring its old mtime (``touch -r``) all change the change time or the inode,
    which no user command can set back. Kept as JSON in ``path`` between runs; losing it only
    costs a re-hash.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, list[Any]] = {}
        self._dirty = False
        if path is not None and path.is_file():
            try:
                self._entries = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._entries = {}

    def sha256(self, file: Path, stat: os.stat_result) -> str:
        """The SHA-256 of ``file``, from the memo when its stat has not changed."""
        key = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        name = str(file)
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and entry[:4] == key:
                return entry[4]
        digest = _sha256_file(file)
        with self._lock:
            self._entries[name] = [*key, digest]
            self._dirty = True
        return digest

    def save(self) -> None:
        """Write the memo (atomically) if anything was added, dropping files that are gone."""
        from lab2prod.io import write_text_atomic

        if self.path is None or not self._dirty:
            return
        with self._lock:
            entries = {name: entry for name, entry in self._entries.items() if Path(name).exists()}
            self._dirty = False
        write_text_atomic(self.path, json.dumps(entries, sort_keys=True))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def local_fingerprint(path: Path, memo: FileMemo) -> Fingerprint | None:
    """The fingerprint of a local file or folder, or ``None`` if there is nothing at ``path``."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        parts = {
            p.relative_to(path).as_posix(): memo.sha256(p, p.stat())
            for p in files
            if not p.name.startswith(".")
        }
        return {
            "kind": "folder",
            "files": len(parts),
            "size": sum(p.stat().st_size for p in files),
            "digest": _digest_of(parts),
        }
    return {
        "kind": "file",
        "size": stat.st_size,
        "mtime": stat.st_mtime,
        "digest": "sha256:" + memo.sha256(path, stat),
    }


def remote_fingerprint(fs: Any, path: str) -> Fingerprint | None:
    """The fingerprint of a file or folder on an fsspec filesystem (one ``info`` per file)."""
    if not fs.exists(path):
        return None
    if fs.isdir(path):
        parts = {}
        for name, info in sorted(fs.find(path, detail=True).items()):
            parts[name[len(path) :].lstrip("/")] = _remote_checksum(fs, name, info)
        return {"kind": "folder", "files": len(parts), "digest": _digest_of(parts)}
    info = fs.info(path)
    return {"kind": "file", "size": info.get("size"), "digest": _remote_checksum(fs, path, info)}


def _remote_checksum(fs: Any, path: str, info: dict[str, Any]) -> str:
    for key in _REMOTE_CHECKSUM_KEYS:
        value = info.get(key)
        if value:
            return f"{key.lower()}:{str(value).strip(chr(34))}"
    # No checksum kept by the storage: its bytes, streamed.
    digest = hashlib.sha256()
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _digest_of(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def value_digest(value: Any) -> str:
    """The digest of a JSON-able value (parameters): keys sorted, dates as text."""
    return _digest_of(plain(value))


_SMALL_VALUE_ITEMS = 10_000
_SMALL_VALUE_CHARS = 1 << 16


def small_value_digest(value: Any) -> str | None:
    """The digest of an in-memory value small and plain enough to hash on the way by (a number,
    a string, a short list or dict of them), else ``None``.

    Such a value (a decision threshold, a few metrics) is fingerprinted by content, so a node
    that re-ran and made the same value does not re-run its readers; anything else in memory (a
    DataFrame, a model) is fingerprinted by how it was made (``manifest``'s derivation digest).
    """
    budget = [_SMALL_VALUE_ITEMS]

    def is_plain(item: Any) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if item is None or isinstance(item, str | int | float):  # numpy.float64 is a float
            return True
        if isinstance(item, list | tuple):
            return all(is_plain(element) for element in item)
        if isinstance(item, dict):
            return all(isinstance(key, str) and is_plain(element) for key, element in item.items())
        return False

    if not is_plain(value):
        return None
    text = json.dumps(value, sort_keys=True)
    if len(text) > _SMALL_VALUE_CHARS:
        return None
    return "value:sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain(value: Any) -> Any:
    """``value`` as plain JSON values: pydantic models and dataclasses dumped, the rest kept."""
    from dataclasses import asdict, is_dataclass

    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --- datasets -------------------------------------------------------------------------------

DatasetFingerprinter = Callable[[Any, FileMemo], "Fingerprint | None"]
"""``(dataset, memo) -> fingerprint``, or ``None`` when the dataset holds nothing yet."""

_REGISTRY: dict[str, DatasetFingerprinter] = {}


class NotFingerprintable(Exception):
    """A dataset whose content lab2prod cannot fingerprint without loading it."""


def register(class_path: str, fingerprinter: DatasetFingerprinter) -> None:
    """Use ``fingerprinter`` for datasets of the class ``module.Name`` (and its subclasses).

    By name, so that registering costs no import of the dataset's library.
    """
    _REGISTRY[class_path] = fingerprinter


def dataset_fingerprint(dataset: Any, memo: FileMemo) -> Fingerprint | None:
    """The fingerprint of what ``dataset`` would load now; ``None`` if it holds nothing.

    Raises:
        NotFingerprintable: Neither the registry, the dataset itself nor its file attributes
            say where its content is (an in-memory dataset, a database table, an API).
    """
    own = getattr(type(dataset), "fingerprint", None)
    if callable(own):
        return own(dataset)
    for cls in type(dataset).__mro__:
        fingerprinter = _REGISTRY.get(f"{cls.__module__}.{cls.__qualname__}")
        if fingerprinter is not None:
            return fingerprinter(dataset, memo)
    if getattr(dataset, "_EPHEMERAL", False):
        raise NotFingerprintable(f"{type(dataset).__name__} keeps its data in memory")
    location = file_location(dataset)
    if location is None:
        raise NotFingerprintable(f"{type(dataset).__name__} has no file lab2prod can read")
    return _fingerprint_at(*location, memo)


def file_location(dataset: Any) -> tuple[Any, str, str] | None:
    """``(filesystem, protocol, path)`` of what a file-backed dataset loads now, else ``None``.

    kedro-datasets keep the file in ``_filepath`` and the filesystem in ``_fs`` (no public API
    says where a dataset's data is); a versioned dataset loads its latest version
    (``_get_load_path``), or the one ``--load-versions`` pinned.
    """
    from kedro.io import AbstractVersionedDataset

    filepath = getattr(dataset, "_filepath", None)
    fs = getattr(dataset, "_fs", None)
    if filepath is None or fs is None:
        return None
    protocol = getattr(dataset, "_protocol", None) or "file"
    if isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None:
        from kedro.io import DatasetError

        try:
            filepath = dataset._get_load_path()
        except DatasetError:  # no version saved yet
            return fs, protocol, ""
    return fs, protocol, str(filepath)


def dataset_version(dataset: Any) -> str | None:
    """The version a versioned dataset loads now (``None`` for unversioned ones)."""
    from kedro.io import AbstractVersionedDataset, DatasetError

    if isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None:
        try:
            return dataset.resolve_load_version()
        except DatasetError:
            return None
    return None


def _fingerprint_at(fs: Any, protocol: str, path: str, memo: FileMemo) -> Fingerprint | None:
    if not path:
        return None
    if protocol in ("file", "local"):
        return local_fingerprint(Path(path), memo)
    from kedro.io.core import get_filepath_str

    return remote_fingerprint(fs, get_filepath_str(PurePosixPath(path), protocol))


def _value_dataset(dataset: Any, memo: FileMemo) -> Fingerprint | None:
    """lab2prod's ``ValueDataset``: the one file of ``filepath + suffix`` that exists."""
    from lab2prod.datasets import _SUFFIXES

    for suffix in _SUFFIXES:
        path = f"{dataset._filepath}{suffix}"
        found = _fingerprint_at(dataset._fs, dataset._protocol or "file", path, memo)
        if found is not None:
            return {**found, "suffix": suffix}
    return None


def _partitioned_dataset(dataset: Any, memo: FileMemo) -> Fingerprint | None:
    fs, path = dataset._filesystem, dataset._normalized_path
    protocol = getattr(dataset, "_protocol", None) or "file"
    if protocol in ("file", "local"):
        return local_fingerprint(Path(fs._strip_protocol(path)), memo)
    return remote_fingerprint(fs, path)


def _bento_model(dataset: Any, memo: FileMemo) -> Fingerprint | None:
    """``BentoModelDataset``: the model version it loads and its ``package.json``, read from the
    store's folders (``$BENTOML_HOME/models/<name>/``), so that no check imports bentoml."""
    home = Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")
    name, _, version = dataset.load_tag.partition(":")
    folder = home / "models" / name.lower()
    if version == "latest":
        latest = folder / "latest"
        if not latest.is_file():
            return None
        version = latest.read_text(encoding="utf-8").strip()
    package = folder / version / "package.json"
    if not package.is_file():
        return None
    found = local_fingerprint(package, memo)
    return {"kind": "bentoml_model", "tag": f"{name}:{version}", "digest": found["digest"]}


register("lab2prod.datasets.ValueDataset", _value_dataset)
register("kedro_datasets.partitions.partitioned_dataset.PartitionedDataset", _partitioned_dataset)
register("lab2prod.serving.dataset.BentoModelDataset", _bento_model)
