"""ChecksummedPickleDataset: Kedro's pickle dataset that refuses a file it did not write."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from kedro.io import DataCatalog, DatasetError

from lab2prod.errors import IntegrityError


class _Payload:
    """Unpickling this creates a file: proof that a pickle ran code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).touch, ())


def catalog(tmp_path: Path, *, versioned: bool = True) -> DataCatalog:
    return DataCatalog.from_config(
        {
            "model": {
                "type": "lab2prod.pickles.ChecksummedPickleDataset",
                "filepath": str(tmp_path / "model.pkl"),
                "versioned": versioned,
            }
        }
    )


def saved_file(tmp_path: Path) -> Path:
    (path,) = (tmp_path / "model.pkl").glob("*/model.pkl")
    return path


def test_what_was_saved_loads_and_its_digest_sits_beside_it(tmp_path: Path):
    """A saved model loads back; each version's file has its SHA-256 beside it."""
    catalog(tmp_path).save("model", {"weights": [1.0, 2.0]})

    assert catalog(tmp_path).load("model") == {"weights": [1.0, 2.0]}
    path = saved_file(tmp_path)
    digest = path.with_name("model.pkl.sha256").read_text().strip()
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("replace", r"model\.pkl is not the file that was written: its SHA-256 is sha256:"),
        ("drop_digest", r"model\.pkl has no recorded SHA-256"),
    ],
)
def test_a_replaced_file_or_a_missing_digest_is_refused_before_unpickling(
    tmp_path: Path, tamper: str, message: str
):
    """A file swapped for a pickle that runs code, or left without its digest, is refused with
    the path, the digests and the fix; the payload never runs."""
    catalog(tmp_path).save("model", {"weights": [1.0]})
    path = saved_file(tmp_path)
    marker = tmp_path / "ran"
    if tamper == "replace":
        path.write_bytes(pickle.dumps(_Payload(str(marker))))
    else:
        path.with_name("model.pkl.sha256").unlink()
        path.write_bytes(pickle.dumps(_Payload(str(marker))))

    with pytest.raises(DatasetError) as caught:
        catalog(tmp_path).load("model")

    cause = caught.value
    while cause is not None and not isinstance(cause, IntegrityError):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, IntegrityError)
    assert cause.path == str(path)
    assert re.search(message, str(cause))
    assert "kedro run" in str(cause)
    assert not marker.exists()


def test_the_project_saves_its_models_with_digests():
    """Every pickle the example's catalog writes (the trained models, the retraining's
    challenger) is written and read by the checked dataset."""
    import yaml

    from tests.conftest import ROOT

    pickles = {}
    for catalog in sorted((ROOT / "conf/base").glob("catalog*.yml")):
        for name, entry in (yaml.safe_load(catalog.read_text()) or {}).items():
            if isinstance(entry, dict) and "pickle" in str(entry.get("type", "")).lower():
                pickles[name] = entry["type"]
    assert {"model", "baseline_model", "challenger_model"} <= pickles.keys()
    assert set(pickles.values()) == {"lab2prod.pickles.ChecksummedPickleDataset"}, pickles
