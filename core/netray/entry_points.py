"""Find the ``netray.plugins`` entry points of installed distributions, quickly.

``importlib.metadata`` would do this, but importing it (and the ``email`` package
it parses METADATA with) costs about a fifth of what it takes netray to open a
small model, on every command. Installed distributions are folders named
``<name>-<version>.dist-info`` (or ``.egg-info``) in the ``sys.path`` folders,
with an INI-like ``entry_points.txt``; reading those directly gives the same
answer for every installer that writes them (pip, uv, setuptools' editable
installs). Like ``importlib.metadata``, the first distribution of a name on
``sys.path`` wins.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def normalize(name: str) -> str:
    """A project name as PEP 503 compares it: ``Netray_Plugin.ONNX`` -> ``netray-plugin-onnx``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class EntryPoint:
    """``name = module[:attribute]`` of one group, and the distribution that declares it."""

    name: str
    value: str
    distribution: str
    version: str

    def load(self) -> object:
        module_name, _, attribute = self.value.partition(":")
        loaded: object = importlib.import_module(module_name.strip())
        for part in attribute.split("[", 1)[0].strip().split(".") if attribute else ():
            loaded = getattr(loaded, part)
        return loaded


def entry_points(group: str, path: list[str] | None = None) -> list[EntryPoint]:
    """Entry points of ``group`` declared by the distributions found on ``path`` (``sys.path``)."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for folder in sys.path if path is None else path:
        for info in _metadata_folders(folder or os.curdir):
            key = normalize(_stem(info).split("-", 1)[0])
            if key in seen:
                continue
            seen.add(key)
            try:
                text = (info / "entry_points.txt").read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            declared = _group(text, group)
            if declared:
                name, version = _name_and_version(info)
                found.extend(EntryPoint(ep_name, value, name, version) for ep_name, value in declared)
    return found


def _metadata_folders(folder: str) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(_METADATA_SUFFIXES) and e.is_dir())
    except OSError:  # not a folder (a zip on sys.path), gone, or unreadable
        return []
    return [Path(folder, name) for name in names]


def _stem(info: Path) -> str:
    """``name-version`` of a ``name-version.dist-info`` folder."""
    return info.name.rsplit(".", 1)[0]


def _group(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` lines of section ``[group]`` of an entry_points.txt."""
    entries: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
        elif inside and "=" in line:
            name, _, value = line.partition("=")
            entries.append((name.strip(), value.strip()))
    return entries


def _name_and_version(info: Path) -> tuple[str, str]:
    """Name and Version from the header of METADATA (PKG-INFO for egg-info); the folder name if absent."""
    fallback_name, _, rest = _stem(info).partition("-")
    name, version = fallback_name, rest.split("-", 1)[0]
    for file in ("METADATA", "PKG-INFO"):
        try:
            with open(info / file, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break  # the header ends at the first blank line
                    key, _, value = line.partition(":")
                    if key == "Name":
                        name = value.strip()
                    elif key == "Version":
                        version = value.strip()
            break
        except OSError:
            continue
    return name, version
