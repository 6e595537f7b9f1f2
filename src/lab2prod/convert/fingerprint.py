"""Cheap fingerprints of a notebook's variables, taken in the kernel at each section's end.

``--verify`` inserts, after each section, a cell that calls ``fingerprint_variables``: for
every variable the plan follows, the object's identity and a digest of its content. Two
sections' fingerprints tell what the run did to each variable: the same object unchanged,
the same object changed in place, or another object; ``verify`` compares that with what the
plan assumed.

The digest is BLAKE2b, and costs about one pass over the value, capped:

- a numpy array: its dtype, shape and bytes; past the cap, an evenly strided sample of the
  cap's size (noted ``sampled``: a change between the sampled elements goes unseen);
- a pandas DataFrame or Series: pandas' own row hashes (``hash_pandas_object``, index
  included) with the column names and dtypes; past the cap, every n-th row (``sampled``);
- anything else: its pickle (protocol 5), hashed as it is written; a value whose pickle
  grows past the cap, or that cannot be pickled, has no digest (and the note says why).

Modules, functions, classes and plotting objects are not data and are left out. The cap is
64 MiB, ``LAB2PROD_FINGERPRINT_MB`` changes it. Runs in the kernel: numpy and pandas are used
only when the notebook imported them.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import types
from typing import Any

FINGERPRINTS_RECORD = "lab2prod_verify_fingerprints"
"""The record holding every boundary's fingerprints."""

_taken: dict[str, dict[str, list[Any]]] = {}


class _TooBig(Exception):
    """The pickle grew past the cap."""


class _Digest:
    """A file-like sink for ``pickle`` that hashes what it is given, up to a cap."""

    def __init__(self, cap: int) -> None:
        self.hash = hashlib.blake2b(digest_size=16)
        self.size = 0
        self.cap = cap

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.cap:
            raise _TooBig
        self.hash.update(data)
        return len(data)


def cap_bytes() -> int:
    """The size past which a value is sampled or not hashed, in bytes."""
    return int(float(os.environ.get("LAB2PROD_FINGERPRINT_MB", "64")) * 1024 * 1024)


def fingerprint(value: Any, cap: int | None = None) -> list[Any] | None:
    """``[id, digest or None, note]`` for a value, or ``None`` for what is not data.

    Args:
        value: The value.
        cap: Bytes past which a value is sampled or not hashed (default ``cap_bytes()``).
    """
    cap = cap_bytes() if cap is None else cap
    if _not_data(value):
        return None
    numpy, pandas = sys.modules.get("numpy"), sys.modules.get("pandas")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.dtype.kind != "O":
        return [id(value), *_array(numpy, value, cap)]
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series):
        try:
            return [id(value), *_frame(pandas, value, cap)]
        except TypeError:  # unhashable cells (lists, dicts): fall back to the pickle
            pass
    digest = _Digest(cap)
    try:
        pickle.Pickler(digest, protocol=5).dump(value)
    except _TooBig:
        return [id(value), None, f"pickled, it is over {cap // (1024 * 1024)} MiB"]
    except Exception as exc:  # any __reduce__ may raise anything: the value is not picklable
        return [id(value), None, f"cannot be pickled ({type(exc).__name__})"]
    return [id(value), digest.hash.hexdigest(), ""]


def fingerprint_variables(boundary: str, names: list[str], namespace: dict[str, Any]) -> None:
    """Fingerprint the variables ``names`` of ``namespace`` and record them under ``boundary``.

    Called by the cell ``--verify`` inserts after a section. A name the namespace does not
    hold is left out.
    """
    from lab2prod.execute.record import record

    taken: dict[str, list[Any]] = {}
    by_id: dict[int, list[Any] | None] = {}
    for name in names:
        if name not in namespace:
            continue
        value = namespace[name]
        if id(value) not in by_id:
            by_id[id(value)] = fingerprint(value)
        found = by_id[id(value)]
        if found is not None:
            taken[name] = found
    _taken[boundary] = taken
    record(FINGERPRINTS_RECORD, dict(_taken))


def _not_data(value: Any) -> bool:
    if isinstance(value, types.ModuleType | types.FunctionType | types.BuiltinFunctionType | type):
        return True
    module = type(value).__module__ or ""
    return module.split(".")[0] in ("matplotlib", "seaborn", "plotly", "IPython", "ipykernel")


def _array(numpy: Any, value: Any, cap: int) -> tuple[str, str]:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{value.dtype.str}{value.shape}".encode())
    note = ""
    flat = value.reshape(-1) if value.flags.c_contiguous else numpy.ravel(value)
    if flat.nbytes > cap:
        step = -(-flat.nbytes // cap)
        flat = numpy.ascontiguousarray(flat[::step])
        note = f"sampled: every {step}th element"
    digest.update(memoryview(numpy.ascontiguousarray(flat)).cast("B"))
    return digest.hexdigest(), note


def _frame(pandas: Any, value: Any, cap: int) -> tuple[str, str]:
    digest = hashlib.blake2b(digest_size=16)
    frame = value.to_frame() if isinstance(value, pandas.Series) else value
    digest.update(repr([(str(n), str(t)) for n, t in frame.dtypes.items()]).encode())
    digest.update(repr((type(value).__name__, getattr(value, "name", None))).encode())
    note = ""
    size = int(frame.memory_usage(index=True, deep=False).sum())
    if size > cap and len(frame) > 1:
        step = -(-size // cap)
        frame = frame.iloc[::step]
        note = f"sampled: every {step}th row"
    rows = pandas.util.hash_pandas_object(frame, index=True).to_numpy()
    digest.update(rows.tobytes())
    return digest.hexdigest(), note
