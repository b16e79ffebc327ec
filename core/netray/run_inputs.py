"""The inputs of a run: random with a seed from the declared types, a ``.npy``/``.npz``, or an image.

Random inputs follow what each graph input declares: floats from a standard normal,
token ids within the row count of the embedding they index (so that a ``Gather``
never reads past its table), attention masks as ones, other integers small and
non-negative, booleans true. Named dimensions take the sizes given (``--dim``), or 1,
and the run reports which it assumed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from netray import dtypes
from netray.dim_expressions import resolve_size
from netray.errors import RunError
from netray.ir import Graph, Model, Value
from netray.opkinds import op_kind

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SMALL_INT_RANGE = 10  # integers of unknown meaning are drawn from [0, 10)


def data_inputs(graph: Graph) -> list[Value]:
    """The inputs a run must be given: graph inputs that are not weights."""
    return [v for v in graph.inputs if v.initializer is None]


def concrete_shape(value: Value, dims: Mapping[str, int], assumed: dict[str, int]) -> tuple[int, ...]:
    shape = value.type.shape
    if shape is None:
        raise RunError(f"input {value.name!r} has no declared shape: give it with --inputs (a .npy or .npz)")
    out = []
    for d in shape:
        if isinstance(d, int) and d >= 0:
            out.append(d)
        elif isinstance(d, str):
            size = resolve_size(d, dims, assumed)  # a name, or arithmetic on names ("2*s27")
            out.append(size if size is not None and size > 0 else 1)
        else:
            assumed[f"{value.name}[{len(out)}]"] = 1
            out.append(1)
    return tuple(out)


def _numpy_dtype(value: Value) -> np.dtype:
    dtype = dtypes.numpy_dtype(value.type.dtype or "float32")  # ml_dtypes' for bfloat16 and friends
    if dtype is None:
        raise RunError(f"input {value.name!r} of type {value.type.dtype} has no array type: give it with --inputs")
    return np.dtype(dtype)


def _embedding_rows(value: Value) -> int | None:
    """The row count of the embedding table this value indexes, where one does."""
    for reader in value.consumers:
        if op_kind(reader.op) != "embedding":
            continue
        ins = list(reader.input_values())
        table = next((v for v in ins if v is not value and v.initializer is not None), None)
        shape = table.initializer.shape if table is not None and table.initializer is not None else None
        if shape and isinstance(shape[0], int):
            return shape[0]
    return None


def random_inputs(model: Model, seed: int, dims: Mapping[str, int], assumed: dict[str, int]) -> dict[str, np.ndarray]:
    """One array per data input, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for value in data_inputs(model.main):
        shape = concrete_shape(value, dims, assumed)
        dtype = _numpy_dtype(value)
        if dtype.kind == "f" or dtype.kind == "V":
            arrays[value.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            arrays[value.name] = np.ones(shape, dtype=bool)
        elif dtype.kind in "iu":
            if "mask" in value.name.lower():
                arrays[value.name] = np.ones(shape, dtype=dtype)
            else:
                rows = _embedding_rows(value) or SMALL_INT_RANGE
                arrays[value.name] = rng.integers(0, rows, size=shape).astype(dtype)
        else:
            raise RunError(f"input {value.name!r} of type {value.type.dtype} cannot be made at random: give it with --inputs")
    return arrays


def image_input(path: Path, value: Value, dims: Mapping[str, int], assumed: dict[str, int], mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """An image resized to a 4-D input's height and width, in its layout (NCHW or NHWC), scaled to
    [0, 1], then ``(x - mean) / std`` per channel."""
    shape = concrete_shape(value, dims, assumed)
    if len(shape) != 4:
        raise RunError(f"{path}: an image fits a 4-D input; {value.name!r} has shape {shape}")
    channels_first = shape[1] in (1, 3) and shape[3] not in (1, 3)
    channels = shape[1] if channels_first else shape[3]
    height, width = (shape[2], shape[3]) if channels_first else (shape[1], shape[2])
    try:
        from PIL import Image
    except ImportError:
        raise RunError("reading an image input needs Pillow: pip install pillow") from None
    try:
        with Image.open(path) as image:
            converted = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BILINEAR)
            pixels: np.ndarray = np.asarray(converted, dtype=np.float32) / np.float32(255.0)
    except OSError as exc:
        raise RunError(f"{path}: not an image netray can read: {exc}") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    normalised = (pixels - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    batch = np.broadcast_to(normalised, (shape[0], *normalised.shape))
    array = batch.transpose(0, 3, 1, 2) if channels_first else batch
    return np.ascontiguousarray(array).astype(_numpy_dtype(value))


def file_inputs(path: Path, model: Model) -> dict[str, np.ndarray]:
    """Arrays from a ``.npy`` (the only data input) or a ``.npz`` (by input name)."""
    wanted = data_inputs(model.main)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        else:
            if len(wanted) != 1:
                names = ", ".join(v.name for v in wanted)
                raise RunError(f"{path}: a .npy gives one input; this model has {len(wanted)} ({names}): use a .npz")
            arrays = {wanted[0].name: np.load(path, allow_pickle=False)}
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: cannot read inputs: {exc}") from None
    missing = [v.name for v in wanted if v.name not in arrays]
    if missing:
        raise RunError(f"{path}: no array for input(s) {', '.join(missing)} (it holds {', '.join(arrays) or 'none'})")
    return {v.name: arrays[v.name] for v in wanted}


def make_inputs(
    model: Model,
    source: str | Path | None,
    seed: int,
    dims: Mapping[str, int],
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The run's inputs and the named dimensions assumed to be 1."""
    assumed: dict[str, int] = {}
    if source is None:
        return random_inputs(model, seed, dims, assumed), assumed
    path = Path(source)
    if not path.is_file():
        raise RunError(f"{path}: no such file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        images = [v for v in data_inputs(model.main) if v.type.shape is not None and len(v.type.shape) == 4]
        if len(images) != 1:
            raise RunError(f"{path}: an image needs exactly one 4-D input; this model has {len(images)}")
        arrays = random_inputs(model, seed, dims, assumed)
        arrays[images[0].name] = image_input(path, images[0], dims, assumed, mean, std)
        return arrays, assumed
    arrays = file_inputs(path, model)
    for value in data_inputs(model.main):
        declared = value.type.shape
        got = arrays[value.name].shape
        if declared is not None and (len(declared) != len(got) or any(isinstance(d, int) and d != g for d, g in zip(declared, got, strict=False))):
            raise RunError(f"{path}: input {value.name!r} has shape {got}; the model declares {declared}")
    return arrays, assumed


def element_count(arrays: Mapping[str, np.ndarray]) -> int:
    return sum(math.prod(a.shape) for a in arrays.values())
