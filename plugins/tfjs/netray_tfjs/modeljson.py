"""Reading model.json: the JSON document, which kind of model it holds, and what it says about itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from netray import FormatError, Metadata
from netray_tfjs.formats import GRAPH, GRAPH_PATTERNS, LAYERS, LAYERS_PATTERNS

MAX_JSON_BYTES = 1 << 30  # a graph model's topology can be large; more than this is not a model.json
SNIFF_BYTES = 1 << 20  # what the sniff reads at most when the first 4 KiB do not tell the kind
MANIFEST_BYTES = 16 << 20  # what the sniff reads of a model.json beside a shard, looking for the shard's name
MODEL_JSON = "model.json"
LAYERS_FORMAT, GRAPH_FORMAT = "layers-model", "graph-model"
_KEYS = re.compile(rb'"(?:modelTopology|weightsManifest)"\s*:\s*[\[{]')


def kind_of_text(text: bytes) -> str | None:
    """LAYERS or GRAPH from model.json's bytes (its format key or its topology's first key)."""
    for kind, patterns in ((GRAPH, GRAPH_PATTERNS), (LAYERS, LAYERS_PATTERNS)):
        if any(re.search(p, text) for p in patterns):
            return kind
    return None


def sniff_kind(path: Path, head: bytes) -> tuple[str, float] | None:
    """(format, confidence) for a TensorFlow.js model.json, reading at most SNIFF_BYTES; None otherwise."""
    if not head.lstrip()[:1] == b"{" or not _KEYS.search(head):
        return None
    kind = kind_of_text(head)
    if kind is None and len(head) >= 4096:
        try:
            with open(path, "rb") as f:
                kind = kind_of_text(f.read(SNIFF_BYTES))
        except OSError:
            return None
    if kind is not None:
        return kind, 1.0
    # modelTopology or weightsManifest, but nothing that tells layers from graph: decided on load.
    return LAYERS, 0.6


MAX_MODEL_JSONS = 16  # JSON files looked into beside a shard


def model_jsons_for_shard(path: Path) -> list[tuple[Path, str]]:
    """(model JSON, format) for each TensorFlow.js model JSON in ``path``'s folder whose weightsManifest
    lists it (``model.json`` first; usually one). The JSONs must be files of the folder itself."""
    if path.suffix.lower() == ".json":
        return []
    try:
        folder = path.resolve().parent
        candidates = sorted(path.parent.glob("*.json"), key=lambda p: (p.name != MODEL_JSON, p.name))
    except (OSError, RuntimeError):
        return []
    quoted = json.dumps(path.name).encode()
    listed = re.compile(rb'"paths"\s*:\s*\[[^\]]*' + re.escape(quoted))
    found = []
    for candidate in candidates[:MAX_MODEL_JSONS]:
        try:
            if not candidate.is_file() or candidate.resolve().parent != folder:
                continue
            with open(candidate, "rb") as f:
                text = f.read(4096)
                if not _KEYS.search(text):
                    continue
                text += f.read(MANIFEST_BYTES - len(text))
        except (OSError, RuntimeError):
            continue
        if listed.search(text):
            found.append((candidate, kind_of_text(text) or LAYERS))
    return found


def read_document(path: Path, format: str) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise FormatError(path, format, f"{size:,} bytes: more than netray reads as a model.json")
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, format, f"cannot read: {exc.strerror or exc}") from exc
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise FormatError(path, format, f"not valid JSON: {reason}") from exc
    if not isinstance(doc, dict) or not ("modelTopology" in doc or "weightsManifest" in doc):
        raise FormatError(path, format, "not a TensorFlow.js model.json (no modelTopology or weightsManifest)")
    return doc


def kind_of(doc: dict[str, Any]) -> str:
    """LAYERS or GRAPH, by the format key, else by the topology's shape (older files have no format)."""
    stated = doc.get("format")
    if stated == GRAPH_FORMAT:
        return GRAPH
    if stated == LAYERS_FORMAT:
        return LAYERS
    topology = doc.get("modelTopology")
    if isinstance(topology, dict) and ("node" in topology or "library" in topology):
        return GRAPH
    return LAYERS


def metadata_of(value: Any, prefix: str = "", depth: int = 0) -> Metadata:
    """userDefinedMetadata as typed metadata: nested objects flattened to dotted keys."""
    out: Metadata = {}
    if not isinstance(value, dict):
        return {prefix or "userDefinedMetadata": _meta_value(value)}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and depth < 8:
            out.update(metadata_of(item, f"{name}.", depth + 1))
        else:
            out[name] = _meta_value(item)
    return out


def _meta_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return value
    return json.dumps(value)[:2000]
