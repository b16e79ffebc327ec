"""Module scopes from the layer names converters write.

* OpenVINO's PyTorch frontend: ``__module.model.layers.0.self_attn.q_proj/aten::linear/MatMul``:
  the module path before the first ``/`` -> ``("model", "layers.0", "self_attn", "q_proj")``.
* Model Optimizer and the TensorFlow/ONNX frontends: ``/model/layers.0/attn/MatMul`` or
  ``conv1/WithoutBiases`` -> the ``/``-separated prefix (``("model", "layers.0", "attn")``).
* Dotted names without ``/`` (``layers.0.fc1``, as NNCF and hand-built models name layers) -> the
  dotted prefix, a numeric part joined to the name before it (``layers.0``).

Parts that name an operation rather than a module (``aten::add``) end the scope.
"""

from __future__ import annotations

from collections.abc import Callable

MODULE_PREFIX = "__module."


def dotted(path: str) -> tuple[str, ...]:
    """``model.layers.0.mlp`` -> ``("model", "layers.0", "mlp")``: an index stays with its list."""
    parts: list[str] = []
    for part in path.split("."):
        if not part:
            continue
        if part.isdigit() and parts:
            parts[-1] = f"{parts[-1]}.{part}"
        else:
            parts.append(part)
    return tuple(parts)


class ScopeCache:
    """Scope tuples shared between layers of the same prefix (saves memory on large graphs)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, ...]] = {}

    def of(self, name: str, is_prefix: bool = False) -> tuple[str, ...]:
        """The scope of the layer ``name``; ``is_prefix`` when other layers' names continue it
        (``conv1`` beside ``conv1/relu``): the layer then belongs to the group named after it."""
        if name.startswith(MODULE_PREFIX):
            key = name.split("/", 1)[0]
            return self._get(key, lambda: dotted(key[len(MODULE_PREFIX) :]))
        if "/" in name or (is_prefix and "." not in name):
            prefix = name if is_prefix else name.rpartition("/")[0]
            return self._get(prefix, lambda: _slashed(prefix))
        if "." in name:
            prefix = name if is_prefix else name.rpartition(".")[0]
            if prefix and not name.rpartition(".")[2].isdigit():
                return self._get("." + prefix, lambda: dotted(prefix))
        return ()

    def _get(self, key: str, make: Callable[[], tuple[str, ...]]) -> tuple[str, ...]:
        scope = self._cache.get(key)
        if scope is None:
            scope = make()
            self._cache[key] = scope
        return scope


def prefixes(names: list[str]) -> set[str]:
    """Every ``/`` and ``.`` prefix of the names: the layer names other layers' names continue."""
    out: set[str] = set()
    for name in names:
        if name.startswith(MODULE_PREFIX):
            continue
        for sep in ("/", "."):
            head = name
            while sep in head:
                head = head.rpartition(sep)[0]
                if head in out:
                    break
                out.add(head)
    return out


def _slashed(prefix: str) -> tuple[str, ...]:
    scope: list[str] = []
    for part in prefix.split("/"):
        if "::" in part:  # aten::linear: an operation, not a module
            break
        if part:
            scope.append(part)
    return tuple(scope)
