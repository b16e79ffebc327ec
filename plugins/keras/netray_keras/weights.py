"""Where each layer's weights live in the HDF5 weights file, and lazy loaders for them.

Two layouts:
- Keras 2 ``.h5``: ``model_weights/<layer>/`` with a ``weight_names`` attribute
  (``conv2d_1/kernel:0``); a nested model's group holds its inner layers' weights.
- Keras 3 ``model.weights.h5``: ``layers/<layer>/vars/<i>`` (and deeper, e.g.
  ``layers/lstm/cell/vars/0``); a nested model's layers sit under ``layers/<model>/layers/``.

The HDF5 file is opened once, in a child process (:mod:`netray_keras.h5probe`: h5py
can loop or crash on damaged files), to list datasets (names, shapes, dtypes, byte
offsets). A contiguous, uncompressed dataset becomes a memory-mapped file slice; any
other is read through h5py, in a child process again, when asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from netray import Tensor, file_slice_loader
from netray_keras.archive import FORMAT
from netray_keras.layers import weight_names

if TYPE_CHECKING:
    import h5py

    from netray_keras.h5probe import H5Index, H5Source

TensorFactory = Callable[[str], Tensor]  # value name -> lazy Tensor


class LayerWeights(Protocol):
    """Where the graph builder gets each layer's weights: a file's store, or a live model."""

    def layer_tensors(
        self, scope: tuple[str, ...], layer: str, saved: tuple[str, ...], class_name: str, config: dict[str, Any]
    ) -> list[tuple[str, TensorFactory]]:
        """(port name, tensor factory) for each variable of ``layer`` inside nested models ``scope``."""
        ...


@dataclass(frozen=True)
class WeightInfo:
    """One stored variable."""

    name: str  # shown name, e.g. "conv2d_1/kernel"
    h5_path: str
    shape: tuple[int, ...]
    dtype: str
    offset: int | None  # byte offset of contiguous raw data within the HDF5 file
    nbytes: int


@dataclass
class WeightStore:
    """The weights of a model, by layer, with what is needed to read them later."""

    source: Path  # the user's file (.h5 or .keras)
    h5: H5Source  # where the HDF5 bytes are, for the child process that reads them
    base_offset: int | None  # where the HDF5 bytes start in ``source``; None when not addressable
    by_group: dict[str, list[WeightInfo]] = field(default_factory=dict)
    by_owner: dict[str, list[WeightInfo]] = field(default_factory=dict)
    keras3: bool = False
    everything: list[WeightInfo] = field(default_factory=list)  # Keras 3: every model variable

    def tensor(self, info: WeightInfo, name: str) -> Tensor:
        """A lazy Tensor for a stored variable."""
        location = f"{self.source.name} {info.h5_path}"
        if self.base_offset is not None and info.offset is not None and np.dtype(info.dtype).isnative:
            absolute = self.base_offset + info.offset
            loader = file_slice_loader(self.source, absolute, info.nbytes, info.dtype, info.shape, FORMAT)
            location += f" @ {absolute}"
        else:
            loader = self._h5_loader(info)
        dtype = np.dtype(info.dtype).name
        return Tensor(name, dtype, info.shape, loader=loader, byte_size=info.nbytes, location=location)

    def _h5_loader(self, info: WeightInfo) -> Callable[[], np.ndarray]:
        h5 = self.h5

        def load() -> np.ndarray:
            from netray_keras.h5probe import read_dataset

            return read_dataset(h5, info.h5_path)

        return load

    def fill(self, index: H5Index) -> None:
        """Take the datasets a child process listed (:func:`netray_keras.h5probe.read_index`)."""

        def infos(rows: list[list[Any]]) -> list[WeightInfo]:
            return [WeightInfo(str(n), str(p), tuple(int(d) for d in s), str(t), o, int(b)) for n, p, s, t, o, b in rows]

        self.by_group = {k: infos(v) for k, v in index.by_group.items()}
        self.by_owner = {k: infos(v) for k, v in index.by_owner.items()}
        self.everything = infos(index.everything)
        self.keras3 = index.keras3

    def layer_tensors(
        self, scope: tuple[str, ...], layer: str, saved: tuple[str, ...], class_name: str, config: dict[str, Any]
    ) -> list[tuple[str, TensorFactory]]:
        infos = self.for_layer(scope, layer, saved)
        names = weight_names(class_name, config)
        found: list[tuple[str, TensorFactory]] = []
        for i, info in enumerate(infos):
            # Keras 2 names variables; Keras 3 numbers them (vars/0), named here from the class table.
            # Otherwise the path below the layer: "kernel", or "forward_lstm/kernel" in wrappers.
            short = names[i] if self.keras3 and len(names) == len(infos) else _below(info.name, layer)
            found.append((short, lambda value_name, info=info: self.tensor(info, value_name)))  # type: ignore[misc]
        return found

    def all_tensors(self) -> list[tuple[str, TensorFactory]]:
        """Every model variable by its path in the weights file (for models without a layer graph)."""
        return [(info.h5_path, lambda value_name, info=info: self.tensor(info, value_name)) for info in self.everything]  # type: ignore[misc]

    def for_layer(self, scope: tuple[str, ...], layer: str, saved: tuple[str, ...]) -> list[WeightInfo]:
        """The stored variables of ``layer`` inside the nested models ``scope``.

        ``saved`` is the layer's path of Keras 3 weight-file names (class-based).
        """
        if self.keras3:
            return self.by_group.get("layers/" + "/layers/".join(saved), [])
        if not scope:
            found = self.by_group.get(layer, [])
            own = [w for w in found if w.name.split("/", 1)[0] in (layer, "")]
            return own or found
        return [w for w in self.by_owner.get(layer, []) if w.h5_path.split("/")[1] == scope[0]]


def _below(weight_name: str, layer: str) -> str:
    """The part of a weight's name after its layer's own name (or after the first component)."""
    parts = weight_name.split("/")
    if layer in parts[:-1]:
        return "/".join(parts[parts.index(layer) + 1 :])
    return "/".join(parts[1:]) or weight_name


def _natural_key(path: str) -> list[object]:
    """``vars/10`` after ``vars/2``: numbers compare as numbers."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]


def _info(name: str, h5_path: str, dataset: h5py.Dataset) -> WeightInfo:
    offset = None
    if dataset.chunks is None and dataset.compression is None and dataset.external is None:
        offset = dataset.id.get_offset()
    nbytes = int(dataset.id.get_storage_size())
    expected = int(np.prod(dataset.shape, dtype=np.int64)) * dataset.dtype.itemsize
    if offset is not None and nbytes != expected:
        offset = None  # not a plain array in the file (e.g. unallocated); read through h5py
    return WeightInfo(name, h5_path, tuple(int(d) for d in dataset.shape), dataset.dtype.str, offset, expected)


def _datasets(group: h5py.Group, prefix: str) -> Iterator[tuple[str, h5py.Dataset]]:
    """Datasets under ``group`` (relative path, dataset), skipping nested models' ``layers``."""
    import h5py

    found: list[tuple[str, h5py.Dataset]] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and not name.startswith("layers/") and "/layers/" not in name:
            found.append((name, obj))

    group.visititems(visit)
    found.sort(key=lambda item: _natural_key(item[0]))
    yield from found


def index_keras2(store: WeightStore, f: h5py.File) -> None:
    """Fill ``store`` from a Keras 2 model file's ``model_weights`` group (or a weights-only file)."""
    import h5py

    root = f["model_weights"] if "model_weights" in f else f
    if not isinstance(root, h5py.Group):
        return
    for group_name, group in root.items():
        if not isinstance(group, h5py.Group):
            continue
        names = group.attrs.get("weight_names")
        weight_names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in (names if names is not None else [])]
        infos = []
        for weight_name in weight_names:
            dataset = group.get(weight_name)
            if isinstance(dataset, h5py.Dataset):
                infos.append(_info(weight_name.removesuffix(":0"), f"{root.name}/{group_name}/{weight_name}".lstrip("/"), dataset))
        store.by_group[group_name] = infos
        for info in infos:
            # "<owner path>/<variable>": the owning layer is the last path component before the variable.
            parts = info.name.split("/")
            store.by_owner.setdefault(parts[-2] if len(parts) > 1 else group_name, []).append(info)


def index_keras3(store: WeightStore, f: h5py.File) -> None:
    """Fill ``store`` from a Keras 3 ``model.weights.h5``: one entry per ``layers/...`` group."""
    import h5py

    store.keras3 = True

    def visit_layers(group: h5py.Group, key: str) -> None:
        layers = group.get("layers")
        if not isinstance(layers, h5py.Group):
            return
        for layer_name, layer_group in layers.items():
            if not isinstance(layer_group, h5py.Group):
                continue
            layer_key = f"{key}/{layer_name}" if key else f"layers/{layer_name}"
            store.by_group[layer_key] = [
                _info(f"{layer_name}/{rel}", f"{layer_group.name}/{rel}".lstrip("/"), ds) for rel, ds in _datasets(layer_group, "")
            ]
            visit_layers(layer_group, f"{layer_key}/layers")

    visit_layers(f, "")

    def visit_all(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and not name.startswith("optimizer/"):
            store.everything.append(_info(name, name, obj))

    f.visititems(visit_all)
    store.everything.sort(key=lambda info: _natural_key(info.h5_path))
