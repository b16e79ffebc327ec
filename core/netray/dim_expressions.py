"""Sizes written as arithmetic on named dimensions: ``2*s27 - 1``, ``16*s27 - 8``, ``Max(1, s0)``.

torch.export keeps a dynamic size as a symbol (``s27``) and every size computed from it as
an expression of it; netray keeps those expressions as the dimension's text. Once the names
are given sizes (``--dim s27=5``), an expression is evaluated here so that shapes and costs
follow. The text comes from a model file, so it is parsed (``ast.parse``, which executes
nothing) and evaluated by our own walk over a few node kinds: integers, names, ``+ - * //
% / **`` (``/`` only where it divides exactly, powers up to 64), unary minus, and the functions torch and sympy
print (``Max``, ``Min``, ``FloorDiv``, ``CeilDiv``, ``Mod``). Anything else is not an expression
of sizes, and stays text.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Mapping

MAX_LENGTH = 500  # longer texts are names, not expressions worth parsing

_OPERATORS: dict[type, Callable[[int, int], int | None]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b if b else None,
    ast.Mod: lambda a, b: a % b if b else None,
    ast.Div: lambda a, b: a // b if b and a % b == 0 else None,
    ast.Pow: lambda a, b: a**b if 0 <= b <= 64 else None,  # torch prints s0**2; a huge power is no size
}
_FUNCTIONS: dict[str, Callable[[list[int]], int | None]] = {
    "Max": lambda args: max(args) if args else None,
    "Min": lambda args: min(args) if args else None,
    "FloorDiv": lambda args: args[0] // args[1] if len(args) == 2 and args[1] else None,
    "CeilDiv": lambda args: -(-args[0] // args[1]) if len(args) == 2 and args[1] else None,
    "Mod": lambda args: args[0] % args[1] if len(args) == 2 and args[1] else None,
}


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.expr | None:
    """The expression of ``text`` if it is one of sizes (only the node kinds above), else None."""
    if len(text) > MAX_LENGTH:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _OPERATORS:
                return None
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                return None
        elif isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords):
                return None
        elif isinstance(node, ast.Constant):
            if type(node.value) is not int:
                return None
        elif not isinstance(node, (ast.Name, ast.Load, ast.operator, ast.unaryop)):
            return None
    return tree


@functools.lru_cache(maxsize=4096)
def dim_names(text: str) -> tuple[str, ...]:
    """The names an expression of sizes uses (``("s27",)`` for ``2*s27 - 1``); () for anything else."""
    tree = _parse(text)
    if tree is None:
        return ()
    functions = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in functions), key=lambda n: n.col_offset)
    return tuple(dict.fromkeys(n.id for n in names))  # in reading order, each once


def evaluate(text: str, sizes: Mapping[str, int]) -> int | None:
    """The size ``text`` stands for with ``sizes`` given to its names; None when a name has no
    size, the text is not an expression of sizes, or the result is no size (negative, a
    division that does not come out even)."""
    tree = _parse(text)
    if tree is None:
        return None
    value = _value(tree, sizes)
    return value if value is not None and value >= 0 else None


def _value(node: ast.expr, sizes: Mapping[str, int]) -> int | None:
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) is int else None
    if isinstance(node, ast.Name):
        return sizes.get(node.id)
    if isinstance(node, ast.UnaryOp):
        inner = _value(node.operand, sizes)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, sizes), _value(node.right, sizes)
        return None if left is None or right is None else _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_value(a, sizes) for a in node.args]
        return None if any(a is None for a in args) else _FUNCTIONS[node.func.id]([a for a in args if a is not None])
    return None


def resolve_size(text: str, sizes: Mapping[str, int], assumed: dict[str, int]) -> int | None:
    """The size of a named dimension or of an expression of names, names without a size counted
    as 1 and recorded in ``assumed``; None when the expression gives no size (a negative one, an
    uneven division)."""
    if text in sizes:
        return sizes[text]
    names = dim_names(text)
    if not names:  # a name that is no expression ("batch size"): itself, as 1
        assumed[text] = 1
        return 1
    missing = [n for n in names if n not in sizes]
    for name in missing:
        assumed[name] = 1
    return evaluate(text, {**dict.fromkeys(missing, 1), **sizes})
