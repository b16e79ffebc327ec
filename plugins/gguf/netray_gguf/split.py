"""Split models (llama.cpp's gguf-split, gguf-py's ``split_max_tensors``): one model in N files.

Shard ``k`` is named ``<prefix>-0000k-of-0000N.gguf`` and states ``split.no = k - 1`` and
``split.count = N``; the first shard holds the model's key/values, every shard some of its
tensors. Opening any shard reads them all (headers only; tensor data stays lazy), from the
opened file's own folder: a shard that is a link to elsewhere is refused like a missing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from netray import FormatError
from netray_gguf.header import Header, read_header

SHARD_NAME = re.compile(r"^(?P<prefix>.+)-(?P<no>\d+)-of-(?P<count>\d+)\.gguf$", re.IGNORECASE)
MAX_SHARDS = 10_000


@dataclass
class Split:
    """The shards of a split model: the headers read, and what could not be."""

    count: int
    opened: int  # 1-based number of the shard the user opened
    paths: list[Path]
    headers: dict[int, Header] = field(default_factory=dict)  # by 1-based shard number
    problems: dict[int, str] = field(default_factory=dict)  # by 1-based shard number: why it was not read


def int_field(header: Header, key: str) -> int | None:
    value = header.fields.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def shard_paths(path: Path, header: Header) -> tuple[list[Path], int] | None:
    """Every shard's path and the opened one's number, when ``path`` is a shard named as gguf-split names them."""
    count = int_field(header, "split.count")
    match = SHARD_NAME.match(path.name)
    if count is None or count <= 1 or count > MAX_SHARDS or match is None or int(match.group("count")) != count:
        return None
    width = len(match.group("no"))
    names = [f"{match.group('prefix')}-{k:0{width}d}-of-{match.group('count')}.gguf" for k in range(1, count + 1)]
    opened = int(match.group("no"))
    if not 1 <= opened <= count:
        return None
    return [path.with_name(name) for name in names], opened


def read_split(path: Path, header: Header) -> Split | None:
    """The split ``path`` is a shard of, every other shard's header read; None when it is not one."""
    found = shard_paths(path, header)
    if found is None:
        return None
    paths, opened = found
    split = Split(len(paths), opened, paths)
    folder = path.resolve().parent
    for number, shard in enumerate(paths, start=1):
        if number == opened:
            split.headers[number] = header
            continue
        try:
            if not shard.is_file():
                split.problems[number] = "missing"
                continue
            if shard.resolve().parent != folder:
                split.problems[number] = "a link to a file outside the folder: not read"
                continue
            other = read_header(shard)
        except FormatError as exc:
            split.problems[number] = f"not read: {exc.reason}"
            continue
        except OSError as exc:
            split.problems[number] = f"not read: {exc.strerror or exc}"
            continue
        stated = int_field(other, "split.no"), int_field(other, "split.count")
        if stated != (number - 1, split.count):
            split.problems[number] = f"states split.no {stated[0]} of {stated[1]}, not {number - 1} of {split.count}: not used"
            continue
        split.headers[number] = other
    return split
