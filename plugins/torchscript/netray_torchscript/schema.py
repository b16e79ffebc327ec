"""Argument names from an operator schema string, used to name ports and attributes."""

from __future__ import annotations

from functools import lru_cache


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


@lru_cache(maxsize=4096)
def argument_names(schema: str) -> tuple[str, ...]:
    """``aten::conv2d(Tensor input, Tensor weight, ...) -> Tensor`` -> ``("input", "weight", ...)``."""
    open_at = schema.find("(")
    if open_at < 0:
        return ()
    depth = 0
    for i in range(open_at, len(schema)):
        if schema[i] == "(":
            depth += 1
        elif schema[i] == ")":
            depth -= 1
            if depth == 0:
                inner = schema[open_at + 1 : i]
                break
    else:
        return ()
    names = []
    for arg in _split_top_level(inner):
        if arg == "*":  # keyword-only marker
            continue
        declaration = arg.split("=", 1)[0].strip()
        names.append(declaration.rsplit(" ", 1)[-1])
    return tuple(names)
