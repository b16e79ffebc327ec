"""state_dicts and checkpoints (``torch.save`` zip or legacy files) as weights-only models.

A state_dict has no graph: every tensor goes in ``Model.tensors`` under its key
(``layers.3.attn.q_proj.weight``), and the viewer shows them as a tree by module path
with repeated blocks folded. Nested dicts (``{"model": ..., "optimizer": ...}``) make a
"checkpoint" whose keys join into the path; its plain entries (epoch, step, config
strings) are the file's metadata, typed as pickled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from netray import Metadata, Model, Tensor
from netray.ir import TensorLoader
from netray_pytorch.dtypes import itemsize
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


def _scalars(obj: Any) -> Metadata:
    """Top-level entries that are plain values (epoch, step, config strings), typed, for the metadata panel."""
    if not isinstance(obj, dict):
        return {}
    found: Metadata = {}
    for key, value in obj.items():
        if isinstance(value, (int, float, str, bool)) and len(found) < _MAX_METADATA:
            found[str(key)] = value[:200] if isinstance(value, str) else value
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
        metadata={"storage": pt.storage.key, "storage_offset": pt.storage_offset, "requires_grad": bool(pt.requires_grad)},
    )


def build_model(obj: Any, make_loader: LoaderFactory, location: Callable[[PickledTensor], str]) -> Model:
    """Every tensor under its key path, in the file's order; no graph (a state_dict stores none)."""
    tensors = list(iter_tensors(obj))
    model = Model(CHECKPOINT if is_checkpoint(obj) else STATE_DICT)
    for key, pt in tensors:
        model.tensors[key] = _tensor(key, pt, make_loader(pt), location(pt))
    model.producer = "PyTorch"
    model.metadata.update(_scalars(obj))
    model.properties["tensors"] = len(tensors)
    model.properties["modules"] = len({key.rpartition(".")[0] for key, _ in tensors})
    return model
