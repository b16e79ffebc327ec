"""Sharded models: the index JSON (``model.safetensors.index.json``) and where its shards may live.

The index is ``{"metadata": {...}, "weight_map": {tensor name: shard file name}}``, written by
transformers, diffusers and huggingface_hub beside the shards. Shards are read only inside
the index's folder: a name that climbs out (``../``, an absolute path) is refused, and so is
a symlink whose target lies elsewhere, except for the Hugging Face hub cache, where
``snapshots/<revision>/`` holds symlinks into the same repository's ``blobs/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from netray import FormatError, MetaValue
from netray_safetensors.formats import INDEX_FORMAT
from netray_safetensors.header import parse_json, quoted

MAX_INDEX = 256 * 1024 * 1024  # an index of a million tensors takes ~100 MB; beyond that it is not an index
SHARD_NAME = re.compile(r"-(\d+)-of-(\d+)\.safetensors$")


@dataclass
class ShardIndex:
    """A parsed index: which shard holds each tensor, and the index's own metadata."""

    path: Path
    weight_map: dict[str, str]
    metadata: dict[str, MetaValue]

    def shards(self) -> list[str]:
        """The shard file names, in numeric order (``-00002-of-00010`` before ``-00010-of-00010``)."""
        return sorted(set(self.weight_map.values()), key=natural_key)


def natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def read_index(path: Path, max_bytes: int = MAX_INDEX) -> ShardIndex:
    """The index at ``path``, checked: an object whose ``weight_map`` maps names to file names."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FormatError(path, INDEX_FORMAT, f"the index is {size:,} bytes, more than the {max_bytes:,} an index can need")
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, INDEX_FORMAT, f"cannot read the index: {exc.strerror or exc}") from None
    doc = parse_json(path, raw, "index", INDEX_FORMAT)
    if not isinstance(doc, dict):
        raise FormatError(path, INDEX_FORMAT, "the index is not a JSON object")
    weight_map = doc.get("weight_map")
    if not isinstance(weight_map, dict):
        raise FormatError(path, INDEX_FORMAT, "the index has no weight_map object (tensor name -> shard file)")
    if not weight_map:
        raise FormatError(path, INDEX_FORMAT, "the index's weight_map is empty: it names no tensor and no shard")
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            raise FormatError(path, INDEX_FORMAT, f"weight_map gives tensor {quoted(name)} no shard file name")
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise FormatError(path, INDEX_FORMAT, "the index's metadata is not a JSON object")
    return ShardIndex(path, weight_map, {str(k): meta_value(v) for k, v in metadata.items()})


def meta_value(value: Any) -> MetaValue:
    """A JSON value as typed metadata: scalars and lists of scalars as they are, anything else as JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return list(value)
    return json.dumps(value)


def allowed_roots(folder: Path) -> list[Path]:
    """Folders a shard's real file may lie in: the model's folder, and in the Hugging Face hub
    cache (``<repo>/snapshots/<revision>/``) that repository's ``blobs/`` folder."""
    roots = [folder.resolve()]
    if folder.parent.name == "snapshots":
        roots.append((folder.parent.parent / "blobs").resolve())
    return roots


def shard_path(index_path: Path, name: str, format: str = INDEX_FORMAT) -> Path:
    """The shard ``name`` beside the index, refused when it would be read from outside the folder."""
    folder = index_path.parent
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", name):
        raise FormatError(index_path, format, f"shard {quoted(name)} is not a file inside the index's folder")
    path = folder.joinpath(*pure.parts)
    if path.exists():
        real = path.resolve()
        if not any(real.is_relative_to(root) for root in allowed_roots(folder)):
            raise FormatError(index_path, format, f"shard {quoted(name)} is a link to a file outside the index's folder")
    return path


def indexes_listing(shard: Path, max_files: int = 16) -> list[tuple[ShardIndex, list[str]]]:
    """The indexes beside ``shard`` that list it, each with its shard names (usually one).

    An unreadable or foreign index beside the file is passed over.
    """
    try:
        candidates = sorted(p for p in shard.parent.glob("*.index.json") if p.is_file())[:max_files]
    except OSError:
        return []
    found = []
    for candidate in candidates:
        try:
            shard_path(candidate, candidate.name)  # the index itself must not be a link out of the folder
            index = read_index(candidate, max_bytes=MAX_INDEX // 4)
        except FormatError:
            continue
        shards = index.shards()
        if shard.name in shards:
            found.append((index, shards))
    return found
