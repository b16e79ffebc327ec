"""Darknet's ``.cfg`` text as sections of options, read the way Darknet's ``read_cfg`` reads it.

Darknet strips every whitespace character from a line (``layers = -1, 61`` is
``layers=-1,61``), starts a section at a line beginning with ``[``, skips empty lines
and lines starting with ``#`` or ``;``, and splits every other line at its first
``=``. A line without ``=`` is reported and skipped, as Darknet does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from netray import FormatError
from netray_darknet.formats import FORMAT

MAX_CFG_BYTES = 64 * 1024 * 1024  # the largest real cfgs are ~100 KB; past this it is not a cfg
WHITESPACE = re.compile(r"\s+")


@dataclass
class Section:
    """One ``[type]`` block: its name without brackets, its options in file order, its line."""

    type: str
    line: int
    options: dict[str, str] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class Cfg:
    sections: list[Section]
    skipped: list[str]  # lines Darknet would report and ignore


def read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_CFG_BYTES:
            raise FormatError(path, FORMAT, f"{size:,} bytes is far larger than any network description")
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read file: {exc.strerror or exc}") from exc
    if b"\x00" in data:
        raise FormatError(path, FORMAT, "not a text file (it holds NUL bytes)")
    return data.decode("utf-8", errors="replace")


def parse_cfg(path: Path, text: str) -> Cfg:
    """Sections and options; raises FormatError where Darknet would crash (an option before any section)."""
    sections: list[Section] = []
    skipped: list[str] = []
    current: Section | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = WHITESPACE.sub("", raw)
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            name = line[1:-1] if line.endswith("]") else line[1:]
            current = Section(name, number)
            sections.append(current)
            continue
        key, eq, value = line.partition("=")
        if not eq:
            skipped.append(f"line {number}: {raw.strip()[:80]!r} has no '='")
            continue
        if current is None:
            raise FormatError(path, FORMAT, f"line {number}: option {key!r} comes before any [section]")
        if key not in current.options:  # Darknet's option_find returns the first match
            current.options[key] = value
            current.option_lines[key] = number
    if not sections:
        raise FormatError(path, FORMAT, "no [section] in the file: not a Darknet network description")
    if sections[0].type not in ("net", "network"):
        raise FormatError(
            path,
            FORMAT,
            f"line {sections[0].line}: the first section is [{sections[0].type}]; Darknet requires [net] or [network]",
        )
    return Cfg(sections, skipped)
