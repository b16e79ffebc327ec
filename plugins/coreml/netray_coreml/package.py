"""Finding the model inside an ``.mlpackage`` folder, and companion files confined to a folder.

A package holds ``Manifest.json``, whose ``rootModelIdentifier`` names one of its
``itemInfoEntries``; that entry's ``path`` is relative to the package's ``Data`` folder
(``com.apple.CoreML/model.mlmodel``). ML Program weights live beside the model, in
``weights/weight.bin``, and are named in the model as ``@model_path/weights/weight.bin``.
Every path read from a file is resolved (symlinks included) and refused if it leaves its folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray import FormatError
from netray_coreml.formats import PACKAGE_FORMAT
from netray_coreml.sniff import DEFAULT_MODEL, MANIFEST

MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # a manifest lists a handful of items; more is not one


@dataclass
class PackageModel:
    """Where a package's model is, the folder companions must stay in, and what the manifest said."""

    model: Path
    root: Path
    properties: dict[str, Any] = field(default_factory=dict)


def inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` resolved, or None when it leaves ``root`` (``..``, absolute paths, symlinks)."""
    if not relative or "\x00" in relative:
        return None
    candidate = Path(relative)
    if candidate.is_absolute():
        return None
    base = root.resolve()
    resolved = (base / candidate).resolve()
    if resolved != base and base not in resolved.parents:
        return None
    return resolved


def _manifest(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise FormatError(path, PACKAGE_FORMAT, f"Manifest.json is {size:,} bytes; a package manifest is a few hundred")
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(path, PACKAGE_FORMAT, f"Manifest.json is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FormatError(path, PACKAGE_FORMAT, f"Manifest.json holds a {type(data).__name__}, not an object")
    return data


def resolve_package(folder: Path) -> PackageModel:
    """The root model of the package ``folder``; FormatError when the manifest is wrong or points outside."""
    data_dir = folder / "Data"
    manifest_path = folder / MANIFEST
    properties: dict[str, Any] = {}
    if not manifest_path.is_file():
        fallback = folder / DEFAULT_MODEL
        if fallback.is_file():
            properties["note"] = f"no {MANIFEST}; read the default {DEFAULT_MODEL.as_posix()}"
            return PackageModel(fallback.resolve(), folder.resolve(), properties)
        raise FormatError(folder, PACKAGE_FORMAT, f"the folder has neither {MANIFEST} nor {DEFAULT_MODEL.as_posix()}")
    manifest = _manifest(manifest_path)
    version = manifest.get("fileFormatVersion")
    if isinstance(version, str):
        properties["package format version"] = version
    entries = manifest.get("itemInfoEntries")
    root_id = manifest.get("rootModelIdentifier")
    if not isinstance(entries, dict) or not isinstance(root_id, str):
        raise FormatError(manifest_path, PACKAGE_FORMAT, "Manifest.json lacks itemInfoEntries or rootModelIdentifier")
    entry = entries.get(root_id)
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise FormatError(manifest_path, PACKAGE_FORMAT, f"rootModelIdentifier {root_id!r} names no item with a path")
    relative = entry["path"]
    model = inside(data_dir, relative)
    if model is None:
        raise FormatError(
            manifest_path, PACKAGE_FORMAT, f"the root model path {relative!r} leaves the package's Data folder"
        )
    if not model.is_file():
        raise FormatError(manifest_path, PACKAGE_FORMAT, f"the root model Data/{relative} is not in the package")
    items = [e.get("name") for e in entries.values() if isinstance(e, dict) and isinstance(e.get("name"), str)]
    properties["package items"] = items
    return PackageModel(model, folder.resolve(), properties)
