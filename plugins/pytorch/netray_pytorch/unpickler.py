"""A restricted unpickler for PyTorch pickles that never imports or calls torch.

``find_class`` hands out only containers and placeholders written here; every
other global (``os.system``, ``builtins.eval``, a user's class ...) is refused with a
FormatError that names it. Tensors become :class:`PickledTensor` records that say
which storage they view; the readers turn those into lazy netray Tensors.
"""

from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netray import FormatError
from netray_pytorch.dtypes import STORAGE_DTYPES, TORCH_DTYPE_NAMES


@dataclass(frozen=True)
class StorageType:
    """Stands for ``torch.FloatStorage`` and friends."""

    name: str

    @property
    def dtype(self) -> str:
        return STORAGE_DTYPES[self.name]


@dataclass(frozen=True)
class StorageRef:
    """A storage record from ``persistent_load``: which bytes, of what type, how many elements."""

    key: str
    dtype: str
    numel: int
    location: str = ""
    element_offset: int = 0  # legacy views of a larger storage start here


@dataclass
class PickledTensor:
    """A tensor as the pickle describes it: a view into a storage (no bytes read)."""

    storage: StorageRef
    storage_offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    requires_grad: bool = False
    is_parameter: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def _ints(values: Any, what: str) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"tensor {what} is not a list of integers: {values!r}")
    return tuple(values)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> PickledTensor:
    if not isinstance(storage, StorageRef):
        raise ValueError(f"tensor built from {type(storage).__name__}, not a storage")
    if not isinstance(storage_offset, int):
        raise ValueError("tensor storage offset is not an integer")
    shape, strides = _ints(size, "size"), _ints(stride, "stride")
    if len(shape) != len(strides):
        raise ValueError("tensor size and stride differ in length")
    if any(d < 0 for d in shape) or storage_offset < 0:
        raise ValueError(f"tensor size {shape} or storage offset {storage_offset} is negative")
    return PickledTensor(storage, storage_offset, shape, strides, requires_grad=bool(_[0]) if _ else False)


def _rebuild_parameter(data: Any, requires_grad: Any = False, *_: Any) -> Any:
    if isinstance(data, PickledTensor):
        data.is_parameter = True
        data.requires_grad = bool(requires_grad)
    return data


def _torch_size(*args: Any) -> tuple[Any, ...]:
    return tuple(args[0]) if args and isinstance(args[0], (list, tuple)) else tuple(args)


def _torch_device(*args: Any) -> str:
    return ":".join(str(a) for a in args)


# The complete list of globals a PyTorch pickle may name here.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch", "Size"): _torch_size,
    ("torch", "device"): _torch_device,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles PyTorch data.pkl / legacy pickles into plain containers and PickledTensors."""

    def __init__(self, data: bytes, path: Path, format: str) -> None:
        super().__init__(io.BytesIO(data))
        self.path = path
        self.format = format
        self.storages: dict[str, StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get((module, name))
        if allowed is not None:
            return allowed
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        if module == "torch" and name in TORCH_DTYPE_NAMES:
            return TORCH_DTYPE_NAMES[name]
        raise FormatError(
            self.path, self.format,
            f"refused to load global {module}.{name}: loading it would import and run code the file names "
            "(netray reads state_dicts and checkpoints of tensors; save model.state_dict() or use torch.export)",
        )

    def persistent_load(self, pid: Any) -> Any:
        # ('storage', storage_type, key, location, numel[, view_metadata]) in zip and legacy files.
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            raise FormatError(self.path, self.format, f"unknown persistent record {str(pid)[:60]!r}")
        storage_type, key, location, numel = pid[1:5]
        if isinstance(storage_type, str):  # newer torch pickles a dtype with UntypedStorage
            dtype = storage_type
        elif isinstance(storage_type, StorageType):
            dtype = storage_type.dtype
        else:
            raise FormatError(self.path, self.format, f"storage record names no storage type: {storage_type!r}")
        if not isinstance(numel, int) or numel < 0:
            raise FormatError(self.path, self.format, f"storage {key!r} has a bad element count {numel!r}")
        ref = self.storages.get(str(key))
        if ref is None:
            ref = StorageRef(str(key), dtype, numel, str(location))
            self.storages[ref.key] = ref
        view = pid[5] if len(pid) > 5 else None
        if isinstance(view, tuple) and len(view) == 3 and isinstance(view[1], int) and isinstance(view[2], int):
            return StorageRef(ref.key, dtype, view[2], ref.location, element_offset=view[1])
        return ref


def restricted_load(data: bytes, path: Path, format: str) -> tuple[Any, dict[str, StorageRef]]:
    """Unpickle ``data``; returns the object and the storages it refers to."""
    unpickler = RestrictedUnpickler(data, path, format)
    try:
        obj = unpickler.load()
    except FormatError:
        raise
    except RecursionError as exc:
        raise FormatError(path, format, "the pickle nests too deeply") from exc
    except Exception as exc:  # truncated or malformed pickle opcodes
        raise FormatError(path, format, f"cannot read the pickle: {type(exc).__name__}: {exc}") from exc
    return obj, unpickler.storages
