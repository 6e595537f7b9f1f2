"""A bento's supply chain: a model is packed only with its provenance, and with a bill of materials.

- :class:`ProvenancedModel`: the ``bentoml.models.BentoModel`` a service names its model with
  (``model = ProvenancedModel("fraud_detection:latest")``); ``bentoml build`` asks it for the
  model's info, and it refuses (:class:`~lab2prod.errors.ProvenanceError`, naming the missing
  fields and the fix) a model whose provenance record lacks a field of
  :data:`~lab2prod.serving.provenance.REQUIRED_PROVENANCE`.
- :func:`bento_sbom`: a CycloneDX 1.5 software bill of materials of what the bento installs
  (``bentofile.yaml``'s ``python.packages`` and everything they depend on), from ``uv.lock``
  through uv's own export (``uv export --format cyclonedx1.5``).
- ``python -m lab2prod.serving.supply sbom [PROJECT]`` writes it to ``sbom.cdx.json`` in the
  project, which ``bentofile.yaml`` includes: ``make bento`` runs it before ``bentoml build``.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import attrs
from bentoml.models import BentoModel

from lab2prod.errors import PackageError, ProvenanceError
from lab2prod.serving.provenance import REQUIRED_PROVENANCE, missing_provenance

__all__ = ["SBOM_FILE", "ProvenancedModel", "bento_sbom", "write_sbom"]

SBOM_FILE = "sbom.cdx.json"
"""Where :func:`write_sbom` puts the SBOM, in the project (``bentofile.yaml`` includes it)."""
_PACKAGE_FILE = "package.json"


@attrs.frozen
class ProvenancedModel(BentoModel):
    """A BentoML model reference that ``bentoml build`` packs only with its provenance.

    Serving resolves it as any ``BentoModel``; building a bento (and pushing it) asks for its
    info first, which checks the model's ``package.json`` (written by
    ``lab2prod.serving.BentoModelDataset``) for every field of ``REQUIRED_PROVENANCE``.
    """

    def to_info(self, alias: str | None = None) -> Any:
        """The model's info for the bento, once its provenance is complete.

        Raises:
            ProvenanceError: If the stored model has no provenance record, or one without a
                required field.
        """
        stored = self.stored
        if stored is not None:
            package = Path(stored.path_of(_PACKAGE_FILE))
            record = (
                json.loads(package.read_text()).get("provenance") if package.is_file() else None
            )
            missing = missing_provenance(record)
            if missing:
                raise ProvenanceError(
                    f"Model {stored.tag} is not packed into a bento: its provenance lacks "
                    f"{', '.join(missing)} ({'; '.join(REQUIRED_PROVENANCE[m] for m in missing)}), "
                    "so it cannot be traced to the code and data that made it. Package it with "
                    "lab2prod, which records them (kedro run --pipelines packaging, through "
                    "lab2prod.serving.BentoModelDataset), then run bentoml build again.",
                    tag=str(stored.tag),
                    missing=missing,
                )
        return super().to_info(alias)


def bento_sbom(project: Path) -> dict[str, Any]:
    """The CycloneDX 1.5 SBOM of the packages a bento of ``project`` installs.

    uv exports the whole locked environment (``uv export --format cyclonedx1.5 --frozen
    --no-dev``); this keeps the packages ``bentofile.yaml`` lists under ``python.packages`` and
    everything they depend on, by the export's own dependency graph, and records the SHA-256 of
    the ``uv.lock`` it came from (metadata property ``lab2prod:uv.lock:sha256``).

    Args:
        project: The folder holding ``bentofile.yaml``, ``pyproject.toml`` and ``uv.lock``.

    Raises:
        PackageError: If ``bentofile.yaml`` installs a package that ``uv.lock`` does not lock,
            or uv cannot export the lock.
    """
    import yaml

    bentofile = yaml.safe_load((project / "bentofile.yaml").read_text())
    wanted = [
        _normalize(re.split(r"[\s=<>!~;\[]", requirement, maxsplit=1)[0])
        for requirement in bentofile.get("python", {}).get("packages", [])
    ]
    bom = _uv_export(project)
    refs = {_normalize(c["name"]): c["bom-ref"] for c in bom["components"]}
    unlocked = [name for name in wanted if name not in refs]
    if unlocked:
        raise PackageError(
            f"bentofile.yaml installs {unlocked}, which uv.lock does not lock: add them to "
            "pyproject.toml's dependencies and run uv lock",
            key="python.packages",
        )
    depends = {d["ref"]: d.get("dependsOn", []) for d in bom.get("dependencies", [])}
    keep: set[str] = set()
    queue = deque(refs[name] for name in wanted)
    while queue:
        ref = queue.popleft()
        if ref not in keep:
            keep.add(ref)
            queue.extend(depends.get(ref, []))
    root = bom["metadata"]["component"]["bom-ref"]
    bom["components"] = [c for c in bom["components"] if c["bom-ref"] in keep]
    bom["dependencies"] = [{"ref": root, "dependsOn": sorted(refs[name] for name in wanted)}] + [
        {"ref": d["ref"], "dependsOn": [r for r in d.get("dependsOn", []) if r in keep]}
        for d in bom.get("dependencies", [])
        if d["ref"] in keep
    ]
    lock = hashlib.sha256((project / "uv.lock").read_bytes()).hexdigest()
    bom["metadata"]["properties"] = [
        {"name": "lab2prod:source", "value": "uv.lock"},
        {"name": "lab2prod:uv.lock:sha256", "value": lock},
        {"name": "lab2prod:roots", "value": "bentofile.yaml python.packages"},
    ]
    return bom


def write_sbom(project: Path) -> Path:
    """Write :func:`bento_sbom` to ``project / SBOM_FILE`` (whole, or not at all)."""
    path = project / SBOM_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(bento_sbom(project), indent=1) + "\n")
    partial.replace(path)
    return path


def _uv_export(project: Path) -> dict[str, Any]:
    from uv import find_uv_bin

    command = [find_uv_bin(), "export", "--format", "cyclonedx1.5", "--frozen", "--no-dev"]
    command += ["--preview-features", "sbom-export", "--project", str(project)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise PackageError(
            f"uv could not export {project / 'uv.lock'} as an SBOM: {result.stderr.strip()}; "
            "run uv lock in the project first",
            key="uv.lock",
        )
    return json.loads(result.stdout)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(argv: list[str] | None = None) -> int:
    """``python -m lab2prod.serving.supply sbom [PROJECT]``: write the project's SBOM."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "sbom" or len(args) > 2:
        print("usage: python -m lab2prod.serving.supply sbom [PROJECT]", file=sys.stderr)
        return 2
    try:
        path = write_sbom(Path(args[1] if len(args) > 1 else ".").resolve())
    except PackageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    components = len(json.loads(path.read_text())["components"])
    print(f"Wrote {path} ({components} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
