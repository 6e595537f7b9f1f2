"""From a bento, a model or a run id back to the run manifest that produced it, as a tree.

``kedro lineage TAG`` prints the chain bento -> model -> run manifest -> code commit and diff
hash, lock, notebooks, parameters and the datasets the model was made from (with the run that
wrote each: a cached node's output comes from an earlier run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab2prod.errors import LineageError
from lab2prod.lineage import store

RUN_ID_LABEL = "kedro_run_id"
"""The BentoML model label naming the Kedro run (the manifest) that packaged it."""


@dataclass
class Trace:
    """What a tag leads back to.

    Attributes:
        tag: What was asked for.
        manifest: The run manifest.
        model: The BentoML model (tag, creation time, labels, metrics, artifacts' SHA-256).
        bento: The bento (tag, creation time, its models), when the tag named one.
        target: The dataset the lineage is drawn back from (the packaged model's dataset).
    """

    tag: str
    manifest: dict[str, Any]
    model: dict[str, Any] | None = None
    bento: dict[str, Any] | None = None
    target: str | None = None
    ancestry: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The chain as JSON."""
        manifest = self.manifest
        return {
            "tag": self.tag,
            "bento": self.bento,
            "model": self.model,
            "run": {
                key: manifest.get(key)
                for key in (
                    "run_id",
                    "status",
                    "started",
                    "finished",
                    "command",
                    "pipelines",
                    "git",
                    "lock",
                    "environment",
                    "notebooks",
                )
            },
            "parameters": self.ancestry.get("parameters", {}),
            "parameters_sha256": (manifest.get("parameters") or {}).get("sha256"),
            "nodes": self.ancestry.get("nodes", []),
            "datasets": self.ancestry.get("datasets", {}),
        }


def trace(project_path: Path, tag: str) -> Trace:
    """The lineage of ``tag``: a run id (or ``latest``), a BentoML model tag or a bento tag.

    Raises:
        LineageError: Nothing of that name, or the model names no run manifest here.
    """
    if tag == "latest" or store.manifest_path(project_path, tag).is_file():
        manifest = store.read_manifest(project_path, tag)
        return _with_ancestry(Trace(tag=tag, manifest=manifest), None)
    bento, model = _bentoml_objects(tag)
    run_id = (model.get("labels") or {}).get(RUN_ID_LABEL)
    if not run_id or run_id == "unknown":
        raise LineageError(
            f"BentoML model {model['tag']} names no Kedro run (label {RUN_ID_LABEL}): it was not "
            "packaged by BentoModelDataset in a `kedro run`.",
            run_id=tag,
        )
    manifest = store.read_manifest(project_path, run_id)
    found = Trace(tag=tag, manifest=manifest, model=model, bento=bento)
    return _with_ancestry(found, model["tag"])


def _bentoml_objects(tag: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    import bentoml
    from bentoml.exceptions import BentoMLException, NotFound

    try:
        return None, model_info(bentoml.models.get(tag))
    except (NotFound, BentoMLException, ValueError):
        pass
    try:
        bento = bentoml.get(tag)
    except (NotFound, BentoMLException, ValueError) as exc:
        raise LineageError(
            f"{tag!r} is neither a run id in {store.TRACKING_DIR / 'runs'}, nor a model or bento "
            "in the BentoML store (`bentoml models list`, `bentoml list`).",
            run_id=tag,
        ) from exc
    models = [str(info.tag) for info in bento.info.models]
    if not models:
        raise LineageError(f"Bento {bento.tag} holds no model to trace.", run_id=tag)
    bento_info = {
        "tag": str(bento.tag),
        "created": bento.info.creation_time.isoformat(),
        "labels": dict(bento.info.labels),
        "models": models,
    }
    return bento_info, model_info(bentoml.models.get(models[0]))


def model_info(model: Any) -> dict[str, Any]:
    """A BentoML model as JSON: tag, creation time, labels, metrics, artifacts' SHA-256."""
    import json

    metadata = dict(model.info.metadata)
    package = Path(model.path) / "package.json"
    artifacts = {}
    if package.is_file():
        artifacts = json.loads(package.read_text(encoding="utf-8")).get("artifact_sha256", {})
    return {
        "tag": str(model.tag),
        "created": model.info.creation_time.isoformat(),
        "labels": dict(model.info.labels),
        "metrics": metadata.get("metrics"),
        "artifact_sha256": artifacts,
    }


def _with_ancestry(found: Trace, model_tag: str | None) -> Trace:
    """The nodes, datasets and parameters the target was made from."""
    manifest = found.manifest
    datasets = manifest.get("datasets") or {}
    nodes = manifest.get("nodes") or {}
    if model_tag is not None:
        found.target = next(
            (
                name
                for name, entry in datasets.items()
                if (entry.get("fingerprint_written") or {}).get("tag") == model_tag
            ),
            None,
        )
    targets = [found.target] if found.target else [n for n, e in datasets.items() if e]
    wanted_nodes: list[str] = []
    wanted_datasets: list[str] = []
    queue = list(targets)
    while queue:
        name = queue.pop()
        if name in wanted_datasets:
            continue
        wanted_datasets.append(name)
        producer = (datasets.get(name) or {}).get("written_by")
        if producer and producer not in wanted_nodes:
            wanted_nodes.append(producer)
            queue += list((nodes.get(producer) or {}).get("inputs", {}))
    parameters: dict[str, Any] = {}
    for node in wanted_nodes:
        for name, value in ((nodes.get(node) or {}).get("parameters") or {}).items():
            parameters[name] = value.get("value")
    found.ancestry = {
        "nodes": [
            {
                "node": node,
                "status": (nodes.get(node) or {}).get("status"),
                "run_id": (nodes.get(node) or {}).get("run_id"),
                "code": ((nodes.get(node) or {}).get("code") or {}).get("digest"),
            }
            for node in reversed(wanted_nodes)
        ],
        "datasets": {
            name: _dataset_summary(datasets.get(name) or {}, nodes)
            for name in reversed(wanted_datasets)
        },
        "parameters": dict(sorted(parameters.items())),
    }
    return found


def _dataset_summary(entry: dict[str, Any], nodes: dict[str, Any]) -> dict[str, Any]:
    fingerprint = entry.get("fingerprint_written") or entry.get("fingerprint_read") or {}
    producer = entry.get("written_by")
    return {
        "type": entry.get("type"),
        "filepath": entry.get("filepath"),
        "version": entry.get("version_written") or entry.get("version_read"),
        "digest": fingerprint.get("digest"),
        "kind": fingerprint.get("kind"),
        "written_by": producer,
        "written_in_run": entry.get("written_by_run")
        or ((nodes.get(producer) or {}).get("run_id") if producer else None),
    }


def render_tree(found: Trace) -> str:
    """The lineage as an indented tree, for a terminal."""
    data = found.as_dict()
    run = data["run"]
    lines = []
    indent = ""
    if found.bento:
        lines.append(f"bento {found.bento['tag']}  (built {found.bento['created']})")
        indent = "  "
    if found.model:
        metrics = found.model.get("metrics") or {}
        shown = ", ".join(
            f"{key} {value:.4g}"
            for key, value in metrics.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        )
        lines.append(f"{indent}model {found.model['tag']}  (created {found.model['created']})")
        if shown:
            lines.append(f"{indent}  metrics: {shown}")
        for name, digest in (found.model.get("artifact_sha256") or {}).items():
            lines.append(f"{indent}  artifact {name}: {digest}")
        indent += "  "
    lines.append(
        f"{indent}run {run['run_id']}  ({run['status']}; {' '.join(run.get('command') or [])}; "
        f"pipelines {', '.join(run.get('pipelines') or [])})"
    )
    indent += "  "
    git = run.get("git") or {}
    if git.get("commit"):
        dirty = f", uncommitted diff sha256:{git['diff_sha256']}" if git.get("dirty") else ""
        lines.append(f"{indent}code: commit {git['commit']}{dirty}")
    else:
        lines.append(f"{indent}code: not in a git repository")
    lock = run.get("lock")
    lines.append(
        f"{indent}lock: {lock['file']} sha256:{lock['sha256']}" if lock else f"{indent}lock: none"
    )
    environment = run.get("environment") or {}
    lines.append(
        f"{indent}environment: Python {environment.get('python')}, "
        f"{environment.get('distributions')} distributions, sha256:{environment.get('sha256')}"
    )
    for pipeline, notebook in (run.get("notebooks") or {}).items():
        sync = "in sync" if notebook.get("in_sync") else "CHANGED since conversion"
        lines.append(
            f"{indent}notebook {notebook.get('notebook')} -> pipeline {pipeline} "
            f"({notebook.get('recorded_hash')}, {sync})"
        )
    lines.append(f"{indent}parameters: {data['parameters_sha256']}")
    for name, value in data["parameters"].items():
        lines.append(f"{indent}  {name}: {_short_json(value)}")
    lines.append(f"{indent}data:")
    for name, entry in data["datasets"].items():
        where = entry.get("filepath") or entry.get("kind") or ""
        version = f" @ {entry['version']}" if entry.get("version") else ""
        made = (
            f"  <- {entry['written_by']} (run {entry['written_in_run']})"
            if entry.get("written_by")
            else "  (input)"
        )
        digest = f" {entry['digest']}" if entry.get("digest") else ""
        lines.append(f"{indent}  {name}: {where}{version}{digest}{made}")
    return "\n".join(lines)


def _short_json(value: Any, limit: int = 160) -> str:
    import json

    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
