"""Model files are not code: a pickle is refused unless it is byte for byte what was written.

Unpickling runs whatever the file holds, so a model file swapped or altered after training (in
the BentoML store, in ``data/06_models``, on the way to a server) must be caught before it is
loaded. The SHA-256 of the bytes is recorded when the file is written; :func:`verified` reads
the file once, checks those very bytes against the record and only then hands them to the
unpickler, so nothing can change between the check and the load.

- :func:`digest`: the SHA-256 of some bytes, as lab2prod records it.
- :func:`verified`: a file's bytes, if they match the recorded digest.

The model package (``lab2prod.serving.package``) records a digest per artifact; Kedro's saved
models use ``lab2prod.pickles.ChecksummedPickleDataset``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab2prod.errors import IntegrityError

__all__ = ["digest", "verified"]

_PREFIX = "sha256:"


def digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return _PREFIX + hashlib.sha256(data).hexdigest()


def verified(
    path: str | Path, expected: str | None, *, fix: str, data: bytes | None = None
) -> bytes:
    """The bytes of ``path`` (or ``data``, read from it), if their digest is ``expected``.

    Args:
        path: The file, named in the error.
        expected: The digest recorded when it was written (``None``: none was).
        fix: What to do about a mismatch, for the message.
        data: The file's bytes, when read already (from another filesystem).

    Raises:
        IntegrityError: If no digest was recorded, or the bytes differ from what was written.
    """
    content = Path(path).read_bytes() if data is None else data
    actual = digest(content)
    if expected is None:
        raise IntegrityError(
            f"{path} has no recorded SHA-256, so it cannot be shown to be the file that was "
            f"written; it is not loaded (loading a pickle runs its contents). {fix}",
            path=str(path),
            expected=None,
            actual=actual,
        )
    if actual != expected:
        raise IntegrityError(
            f"{path} is not the file that was written: its SHA-256 is {actual}, the one recorded "
            f"when it was written is {expected}. It was altered or replaced since; it is not "
            f"loaded (loading a pickle runs its contents). {fix}",
            path=str(path),
            expected=expected,
            actual=actual,
        )
    return content
