"""Scope paths and source locations from what exporters write into ONNX nodes.

- The TorchScript exporter names nodes by module path: ``/model/layers.0/self_attn/MatMul``.
- The torch.export (dynamo) exporter writes node ``metadata_props``:
  ``pkg.torch.onnx.name_scopes`` = ``"['', 'enc', 'enc.layers.0', 'enc.layers.0.self_attn', 'view_4']"``
  (cumulative module paths, the last item the operation itself), ``namespace`` =
  ``": __main__.Net/enc: torch...TransformerEncoder/.../view_4: aten.view.default"``, and
  ``pkg.torch.onnx.stack_trace`` (a Python traceback, outermost frame first).
"""

from __future__ import annotations

import ast
import re
from typing import Final

from netray import SourceLocation

NAME_SCOPES_KEY: Final = "pkg.torch.onnx.name_scopes"
NAMESPACE_KEY: Final = "namespace"
STACK_TRACE_KEY: Final = "pkg.torch.onnx.stack_trace"

_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in (\S+))?')
# Frames inside these folders belong to libraries, not to the user's model code.
_LIBRARY_MARKERS: Final = ("/site-packages/", "/dist-packages/", "\\site-packages\\", "/lib/python")


class ScopeCache:
    """Scope tuples shared between nodes of the same scope (saves memory on large graphs)."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, tuple[str, ...]] = {}

    def from_name(self, name: str) -> tuple[str, ...]:
        """``/model/layers.0/self_attn/MatMul`` -> ``("model", "layers.0", "self_attn")``."""
        prefix = name.rpartition("/")[0]
        if not prefix:
            return ()
        scope = self._by_prefix.get(prefix)
        if scope is None:
            scope = tuple(part for part in prefix.split("/") if part)
            self._by_prefix[prefix] = scope
        return scope

    def intern(self, scope: tuple[str, ...]) -> tuple[str, ...]:
        key = "\0" + "/".join(scope)
        return self._by_prefix.setdefault(key, scope)


def relative_scopes(paths: list[str]) -> tuple[str, ...]:
    """Cumulative module paths ``['', 'enc', 'enc.layers.0']`` -> ``('enc', 'layers.0')``."""
    scope: list[str] = []
    parent = ""
    for path in paths:
        if not path:
            continue
        part = path[len(parent) + 1 :] if parent and path.startswith(parent + ".") else path
        scope.append(part)
        parent = path
    return tuple(scope)


def scope_from_name_scopes(text: str) -> tuple[str, ...]:
    """The module scope from ``pkg.torch.onnx.name_scopes`` (its last item is the op itself)."""
    try:
        paths = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return ()
    if not isinstance(paths, (list, tuple)) or not all(isinstance(p, str) for p in paths):
        return ()
    return relative_scopes(list(paths[:-1]))


def scope_from_namespace(text: str) -> tuple[str, ...]:
    """The module scope from the exporter's ``namespace`` (``name: class`` items joined by ``/``)."""
    paths = [item.split(":", 1)[0].strip() for item in text.split("/")]
    return relative_scopes(paths[:-1])


def source_from_stack(trace: str) -> SourceLocation | None:
    """The innermost frame of the user's own code in a Python traceback (else the innermost frame)."""
    frames = _FRAME.findall(trace)
    if not frames:
        return None
    user = [f for f in frames if not any(marker in f[0] for marker in _LIBRARY_MARKERS)]
    file, line, function = (user or frames)[-1]
    return SourceLocation(file=file, line=int(line), function=function, stack=trace)
