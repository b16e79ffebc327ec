"""Numbers as people read them: byte sizes and counts (one place for every panel and table)."""

from __future__ import annotations


def human_bytes(n: int, digits: int = 2) -> str:
    """``1536`` -> ``1.50 kB``: binary units, as file managers show sizes."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.{digits}f} {unit}"
    return f"{n} B"


def human_count(n: int) -> str:
    """``94602`` -> ``94.60k``: parameter counts in a line of text."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)
