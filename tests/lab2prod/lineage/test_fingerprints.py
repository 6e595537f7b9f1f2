"""Data fingerprints: from files, never from loading data; content, not timestamps."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from kedro_datasets.pandas import CSVDataset

from lab2prod.datasets import ValueDataset
from lab2prod.lineage.fingerprints import FileMemo, dataset_fingerprint, local_fingerprint


def test_file_digest_is_its_sha256(tmp_path: Path):
    """A local file's digest is the SHA-256 of its bytes, with its size."""
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 5000)
    found = local_fingerprint(path, FileMemo())
    assert found["digest"] == "sha256:" + hashlib.sha256(b"x" * 5000).hexdigest()
    assert found["size"] == 5000


def test_same_size_replacement_with_old_mtime_is_seen_through_the_memo(tmp_path: Path):
    """Bytes replaced in place, same size, mtime put back: the memo does not hide it."""
    path = tmp_path / "a.csv"
    path.write_text("id,amount\n1,10\n")
    memo = FileMemo(tmp_path / "memo.json")
    before = local_fingerprint(path, memo)
    memo.save()
    stat = path.stat()
    path.write_text("id,amount\n1,19\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = local_fingerprint(path, FileMemo(tmp_path / "memo.json"))
    assert after["size"] == before["size"] and after["mtime"] == before["mtime"]
    assert after["digest"] != before["digest"]


def test_memo_spares_rehashing_an_unchanged_file(tmp_path: Path, monkeypatch):
    """An unchanged file is hashed once across runs (the memo is read back from disk)."""
    from lab2prod.lineage import fingerprints

    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(1 << 16))
    memo = FileMemo(tmp_path / "memo.json")
    first = local_fingerprint(path, memo)
    memo.save()
    calls = []
    monkeypatch.setattr(fingerprints, "_sha256_file", lambda p: calls.append(p) or "never")
    assert local_fingerprint(path, FileMemo(tmp_path / "memo.json")) == first
    assert calls == []


def test_folder_digest_follows_its_files(tmp_path: Path):
    """A folder's digest changes when any file in it does, or when one is added."""
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    memo = FileMemo()
    first = local_fingerprint(folder, memo)
    (folder / "b.txt").write_text("b")
    second = local_fingerprint(folder, memo)
    (folder / "b.txt").write_text("c")
    third = local_fingerprint(folder, memo)
    assert len({first["digest"], second["digest"], third["digest"]}) == 3


def test_datasets_are_fingerprinted_from_their_files(tmp_path: Path):
    """A kedro-datasets dataset and lab2prod's ValueDataset, by the file each would load."""
    csv = CSVDataset(filepath=str(tmp_path / "t.csv"))
    assert dataset_fingerprint(csv, FileMemo()) is None  # nothing saved yet
    (tmp_path / "t.csv").write_text("a\n1\n")
    assert dataset_fingerprint(csv, FileMemo())["kind"] == "file"
    value = ValueDataset(filepath=str(tmp_path / "value"))
    value.save({"threshold": 0.5})
    found = dataset_fingerprint(value, FileMemo())
    assert found["suffix"] == ".json"
    assert found["digest"] == local_fingerprint(tmp_path / "value.json", FileMemo())["digest"]
