"""Symbolic sizes of an ExportedProgram as torch prints them: ``s77``, ``2*s77``, ``s17 + s77``.

Newer ``torch.export.save`` writes a size's ``expr_str`` in sympy's ``srepr`` form
(``Mul(Integer(2), Symbol('s77', positive=True, integer=True))``); older versions wrote
``str`` (``2*s77``). The srepr text is parsed here, never evaluated, and printed the way
sympy's ``str`` prints the common forms. Text that does not parse is kept as written.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_]\w*)|(?P<number>-?\d+)|(?P<string>'[^']*')|(?P<punct>[(),=]))")
_MAX_LENGTH = 4096


class _Unparsed(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise _Unparsed(text)
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """``Name(arg, ..., key=value)`` trees of names, integers and quoted strings."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def next(self) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise _Unparsed("end")
        token = self.tokens[self.i]
        self.i += 1
        return token

    def peek(self) -> str:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else ""

    def term(self) -> tuple[str, list[object]] | str:
        kind, text = self.next()
        if kind in ("number", "string"):
            return text
        if kind != "name":
            raise _Unparsed(text)
        if self.peek() != "(":
            return text
        self.next()
        args: list[object] = []
        while self.peek() != ")":
            value = self.term()
            if self.peek() == "=":  # a keyword argument (positive=True): not part of the value
                self.next()
                self.term()
            else:
                args.append(value)
            if self.peek() == ",":
                self.next()
        self.next()
        return (text, args)


def _number(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _print(node: object) -> str:
    if isinstance(node, str):
        return node.strip("'")
    assert isinstance(node, tuple)
    head, args = node
    parts = [_print(a) for a in args]
    if head == "Symbol" and parts:
        return parts[0]
    if head in ("Integer", "Float") and parts:
        return parts[0]
    if head == "Rational" and len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    if head == "Mul":
        numbers = [p for p in parts if _number(p)]
        others = [f"({p})" if " " in p else p for p in parts if not _number(p)]
        if numbers == ["-1"] and others:
            return "-" + "*".join(others)
        return "*".join(numbers + others)
    if head == "Add":
        ordered = [p for p in parts if not _number(p)] + [p for p in parts if _number(p)]
        positive = next((p for p in ordered if not p.startswith("-")), None)
        if ordered and ordered[0].startswith("-") and positive is not None:  # sympy writes 3 - s0, not -s0 + 3
            ordered.remove(positive)
            ordered.insert(0, positive)
        text = ordered[0] if ordered else "0"
        for p in ordered[1:]:
            text += f" - {p[1:]}" if p.startswith("-") else f" + {p}"
        return text
    if head == "Pow" and len(parts) == 2:
        base = f"({parts[0]})" if not parts[0].isidentifier() and not _number(parts[0]) else parts[0]
        return f"{base}**{parts[1]}"
    if head == "FloorDiv" and len(parts) == 2:
        base, divisor = (f"({p})" if " " in p else p for p in parts)
        return f"({base}//{divisor})"
    return f"{head}({', '.join(parts)})"


def symbolic_text(expr: str) -> str:
    """``Symbol('s77', positive=True, integer=True)`` -> ``s77``; text already in ``str`` form is kept."""
    if "(" not in expr or len(expr) > _MAX_LENGTH:
        return expr
    try:
        parser = _Parser(expr)
        tree = parser.term()
        if parser.i != len(parser.tokens):
            return expr
        return _print(tree)
    except (_Unparsed, AssertionError, IndexError, RecursionError):
        return expr
