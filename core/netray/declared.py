"""Matching a file against formats declared as data (:class:`netray.hookspecs.FormatInfo`).

Used three ways: to order the plugins asked to sniff a file (those whose declarations
match go first), as the claim of a plugin without a ``netray_sniff`` hook, and to name
the plugin to install for a file no installed plugin reads. Cheap: the file's first
bytes, its name, and for zip archives and folders a listing of names.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from netray.hookspecs import FormatInfo

MAGIC = 1.0  # the content proves it
CONTAINS = 0.9  # a folder or archive holds the format's telltale names
PATTERN = 0.5  # the content fits
EXTENSION = 0.1  # the name alone
EXTENSION_BONUS = 0.05  # a content match whose extension agrees beats one whose does not
MAX_MEMBERS = 100_000  # names read from a zip archive's directory at most


@dataclass
class Probe:
    """What is looked at once per file, whatever the number of formats."""

    path: Path
    head: bytes
    is_dir: bool
    _members: list[str] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, path: Path, head: bytes) -> Probe:
        return cls(path, head, path.is_dir())

    @property
    def name(self) -> str:
        return self.path.name.lower()

    def members(self) -> list[str]:
        """Names inside a zip archive (bounded), or nothing for other files."""
        if self._members is None:
            self._members = []
            if not self.is_dir and self.head.startswith(b"PK\x03\x04"):
                try:
                    with zipfile.ZipFile(self.path) as archive:
                        self._members = [info.filename for info in archive.infolist()[:MAX_MEMBERS]]
                except Exception:  # a probe never fails: zipfile raises many kinds on damaged archives
                    pass
        return self._members


@lru_cache(maxsize=512)
def _compiled(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(pattern, re.MULTILINE)


def _contains(probe: Probe, name: str) -> bool:
    if probe.is_dir:
        return (probe.path / name.rstrip("/")).exists()
    folder = name.endswith("/")
    for member in probe.members():
        if folder and (member.startswith(name) or f"/{name}" in member):
            return True
        if not folder and (member == name or member.endswith("/" + name)):
            return True
    return False


def has_extension(name: str, fmt: FormatInfo) -> bool:
    return any(name.endswith(ext) for ext in fmt.extensions)


def score(probe: Probe, fmt: FormatInfo) -> float:
    """How well the file fits ``fmt``'s declarations: 0 (not at all) to just over 1 (proved)."""
    if probe.is_dir and not fmt.directory:
        return 0.0
    content = 0.0
    if not probe.is_dir:
        head = probe.head
        for offset, data in fmt.magic_pairs:
            if head[offset : offset + len(data)] == data:
                content = MAGIC
                break
        if content < PATTERN and any(_compiled(p).search(head) for p in fmt.patterns):
            content = PATTERN
    if content < CONTAINS and fmt.contains and (probe.is_dir or probe.head.startswith(b"PK\x03\x04")):
        found = sum(_contains(probe, name) for name in fmt.contains)
        if found:
            # More of the telltale names present is a closer fit (a TorchScript archive holds a
            # state_dict's data.pkl too, and code/ and constants.pkl besides).
            content = CONTAINS + 0.01 * min(found - 1, 4)
    extension = has_extension(probe.name, fmt)
    if content:
        return content + (EXTENSION_BONUS if extension else 0.0)
    return EXTENSION if extension else 0.0


def best_match(probe: Probe, formats: list[FormatInfo]) -> tuple[FormatInfo, float] | None:
    """The declared format that fits best, with its score; None when none fits at all."""
    best: tuple[FormatInfo, float] | None = None
    for fmt in formats:
        s = score(probe, fmt)
        if s > 0 and (best is None or s > best[1]):
            best = (fmt, s)
    return best
