"""Reproducible and incremental runs: run manifests, fingerprints, ``kedro run --cache``.

- :class:`ManifestHooks` (register in ``settings.py``) writes a manifest per ``kedro run``
  (``data/09_tracking/runs/<run id>.json``) and the cache's per-node records;
- :class:`CachingRunner` / :func:`caching_runner` skip the nodes whose code, parameters and
  inputs are those of a recorded execution whose outputs are still there;
- ``kedro lineage`` and ``kedro reproduce`` read the manifests back (``lineage.cli``).

See docs/reproducibility.md.
"""

from __future__ import annotations

from lab2prod.lineage.cache import ALWAYS_RUN, CachingRunner, caching_runner
from lab2prod.lineage.manifest import ManifestHooks

__all__ = ["ALWAYS_RUN", "CachingRunner", "ManifestHooks", "caching_runner"]
