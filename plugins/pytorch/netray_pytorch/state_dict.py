"""state_dicts and checkpoints (``torch.save`` zip or legacy files) as a tree of modules.

A state_dict has no graph: each module (the key's prefix before the last dot)
becomes one node whose inputs are its weights; the module path is the scope.
Nested dicts (``{"model": ..., "optimizer": ...}``) make a "checkpoint" whose keys
join into the path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from netray import Attribute, AttrKind, Graph, Model, Node, Port, Tensor, TensorType
from netray.ir import TensorLoader
from netray_pytorch.dtypes import itemsize
from netray_pytorch.modules import guess_module
from netray_pytorch.unpickler import PickledTensor

LoaderFactory = Callable[[PickledTensor], TensorLoader | None]
"""Makes the lazy loader for one pickled tensor (zip member or legacy file slice)."""

STATE_DICT = "PyTorch state_dict"
CHECKPOINT = "PyTorch checkpoint"

_MAX_METADATA = 200  # scalar entries shown as metadata, so a huge checkpoint stays readable


def iter_tensors(obj: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, PickledTensor]]:
    """Every tensor inside nested dicts/lists/tuples with its dotted key path."""
    if depth > 64:
        return
    if isinstance(obj, PickledTensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from iter_tensors(value, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from iter_tensors(value, f"{prefix}.{i}" if prefix else str(i), depth + 1)


def _scalars(obj: Any) -> dict[str, str]:
    """Top-level entries that are plain values (epoch, step, config strings) for the metadata panel."""
    if not isinstance(obj, dict):
        return {}
    found: dict[str, str] = {}
    for key, value in obj.items():
        if isinstance(value, (int, float, str, bool)) and len(found) < _MAX_METADATA:
            found[str(key)] = str(value)[:200]
    return found


def is_checkpoint(obj: Any) -> bool:
    """True when tensors sit below a nested container rather than directly in the top dict."""
    if not isinstance(obj, dict):
        return True
    return any(isinstance(v, (dict, list, tuple)) and any(True for _ in iter_tensors(v)) for v in obj.values())


def _tensor(key: str, pt: PickledTensor, loader: TensorLoader | None, location: str) -> Tensor:
    size = itemsize(pt.storage.dtype)
    numel = 1
    for d in pt.shape:
        numel *= d
    return Tensor(
        key,
        pt.storage.dtype,
        pt.shape,
        loader=loader,
        byte_size=numel * size if size else None,
        location=location,
        metadata={"storage": pt.storage.key, "storage_offset": str(pt.storage_offset), "requires_grad": str(pt.requires_grad)},
    )


def build_model(obj: Any, make_loader: LoaderFactory, location: Callable[[PickledTensor], str]) -> Model:
    """One node per module, its weights as inputs, grouped by module path."""
    tensors = list(iter_tensors(obj))
    fmt = CHECKPOINT if is_checkpoint(obj) else STATE_DICT
    graph = Graph("modules", kind="main")
    modules: dict[str, dict[str, PickledTensor]] = {}
    for key, pt in tensors:
        module, _, leaf = key.rpartition(".")
        modules.setdefault(module, {})[leaf] = pt
    for module, weights in modules.items():
        op, category = guess_module(weights)
        path = tuple(module.split(".")) if module else ()
        node = Node(op, name=module or "(root)", scope=path[:-1], category=category)
        for leaf, pt in weights.items():
            key = f"{module}.{leaf}" if module else leaf
            value = graph.value(key, TensorType(pt.storage.dtype, pt.shape))
            value.initializer = _tensor(key, pt, make_loader(pt), location(pt))
            node.inputs.append(Port(leaf, [value]))
        node.attributes.append(Attribute("module", AttrKind.STRING, module))
        node.metadata["module_path"] = module
        graph.add_node(node)
    graph.link()
    model = Model(fmt, [graph])
    model.producer = "PyTorch"
    model.metadata.update(_scalars(obj))
    model.properties["tensors"] = str(len(tensors))
    model.properties["modules"] = str(len(modules))
    return model
