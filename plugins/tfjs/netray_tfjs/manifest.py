"""model.json's ``weightsManifest``: where each weight's bytes are, read lazily from the shards.

A manifest is a list of groups ``{"paths": [...], "weights": [{"name", "shape", "dtype",
"quantization"?}]}``. A group's shard files, concatenated in order, hold its weights back
to back with no padding, little-endian (TensorFlow.js' ``decodeWeights``):

* numbers take ``count * size`` bytes of their dtype, or of their quantized dtype:
  ``uint8``/``uint16`` dequantize as ``q * scale + min`` (rounded for ``int32`` weights),
  ``float16`` widens to ``float32``;
* strings are, per element, a little-endian uint32 byte length and the bytes, so their
  size is known only by reading those lengths (done when the model is opened).

Shard paths are read only inside the model's folder. A missing shard leaves the weights
that lie in it or after it without values (their offsets are unknown past a missing
file); shards shorter than the manifest needs are noted, and reading a weight past their
end raises a FormatError naming the shard.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from netray import FormatError, Quantization, Tensor, file_slice_loader

# dtype names TensorFlow.js writes (and a few numpy ones converters use) -> little-endian storage
STORAGE: dict[str, str] = {
    "float32": "<f4",
    "int32": "<i4",
    "bool": "u1",
    "complex64": "<c8",
    "float16": "<f2",
    "uint8": "u1",
    "uint16": "<u2",
    "int8": "i1",
    "int16": "<i2",
    "uint32": "<u4",
    "int64": "<i8",
    "float64": "<f8",
}
QUANTIZED: dict[str, str] = {"uint8": "u1", "uint16": "<u2", "float16": "<f2"}
STRING_LENGTH = 4  # uint32 byte length before each string
MAX_SCANNED_STRINGS = 1 << 20  # string elements whose lengths are read at open; beyond, offsets are left unknown
WINDOW = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")
REMOTE = Path("<remote>")  # the path of a shard served from a URL: never a file on this disk
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass
class Shard:
    path: Path
    raw: str  # as the manifest writes it
    start: int = 0  # offset of its first byte within its group
    size: int | None = None  # None: not found


@dataclass
class WeightGroup:
    number: int  # 1-based, as the shard names count them
    shards: list[Shard]
    available: int = 0  # bytes readable from the group's start (up to the first missing shard)
    complete: bool = True  # every shard found
    needed: int | None = None  # bytes the manifest says the group holds (None: unknown)

    def read(self, offset: int, length: int, format: str) -> bytes:
        """Bytes ``offset:offset+length`` of the concatenated shards, checking each file's size now."""
        if offset < 0 or length < 0 or offset + length > self.available:
            raise FormatError(
                self.last_path(), format, f"group {self.number} holds {self.available} bytes, not {offset}+{length}"
            )
        out = bytearray()
        for shard in self.shards:
            if shard.size is None or shard.start >= offset + length or shard.start + shard.size <= offset:
                continue
            begin = max(offset, shard.start) - shard.start
            end = min(offset + length, shard.start + shard.size) - shard.start
            try:
                with open(shard.path, "rb") as f:
                    f.seek(begin)
                    piece = f.read(end - begin)
            except OSError as exc:
                raise FormatError(shard.path, format, f"cannot read: {exc.strerror or exc}") from exc
            if len(piece) != end - begin:
                raise FormatError(
                    shard.path, format, f"shorter than when the model was opened ({begin + len(piece)} bytes)"
                )
            out += piece
        return bytes(out)

    def last_path(self) -> Path:
        return self.shards[-1].path if self.shards else Path(f"group{self.number}")

    def shard_at(self, offset: int) -> Shard | None:
        for shard in self.shards:
            if shard.size is not None and shard.start <= offset < shard.start + shard.size:
                return shard
        return None


@dataclass
class WeightSpec:
    """One manifest entry and where its bytes are."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    group: WeightGroup
    quantization: dict[str, Any] | None = None
    offset: int | None = None  # within the group; None when it cannot be known
    nbytes: int | None = None

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def storage(self) -> np.dtype | None:
        """The dtype of the stored bytes; None for strings and unknown dtypes."""
        if self.quantization is not None:
            found = QUANTIZED.get(str(self.quantization.get("dtype")))
        else:
            found = STORAGE.get(self.dtype)
        return np.dtype(found) if found else None


@dataclass
class Weights:
    """Every weight of the manifest, in order, with the notes the user should see."""

    format: str
    specs: list[WeightSpec] = field(default_factory=list)
    groups: list[WeightGroup] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def tensors(self) -> dict[str, Tensor]:
        """A lazy Tensor per weight name (the first weight of a repeated name)."""
        out: dict[str, Tensor] = {}
        for spec in self.specs:
            if spec.name not in out:
                out[spec.name] = tensor_for(spec, self.format)
        return out


# -- reading the manifest ----------------------------------------------------------------------


def shard_path(folder: Path, raw: Any, model_path: Path, format: str) -> Path | None:
    """The shard file a manifest path names, inside the model's folder; None for a remote URL."""
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        raise FormatError(model_path, format, f"a weightsManifest path is {raw!r}, not a file name")
    if _SCHEME.match(raw) or raw.startswith("//"):
        return None  # weights served from elsewhere: not on this disk
    relative = PurePosixPath(raw.replace("\\", "/"))
    if relative.is_absolute() or _DRIVE.match(raw) or ".." in relative.parts:
        raise FormatError(model_path, format, f"weight shard path {raw!r} leaves the model's folder")
    full = folder.joinpath(*relative.parts)
    try:
        inside = full.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name the system refuses
        inside = False
    if not inside:
        raise FormatError(model_path, format, f"weight shard {raw!r} resolves outside the model's folder")
    return full


def _shape(value: Any, name: str, model_path: Path, format: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value):
        raise FormatError(model_path, format, f"weight {name!r} has shape {str(value)[:80]}: not a list of sizes")
    return tuple(value)


def read_manifest(manifest: Any, model_path: Path, format: str) -> Weights:
    """The manifest's weights with their offsets; the shards are looked at (sizes), not read."""
    weights = Weights(format)
    if manifest is None:
        return weights
    if not isinstance(manifest, list):
        raise FormatError(model_path, format, "weightsManifest is not a list of weight groups")
    folder = model_path.parent
    remote: list[str] = []
    for number, entry in enumerate(manifest, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("paths", []), list):
            raise FormatError(model_path, format, f"weight group {number} is not {{paths, weights}}")
        specs = entry.get("weights", [])
        if not isinstance(specs, list):
            raise FormatError(model_path, format, f"weight group {number}'s weights are not a list")
        group = WeightGroup(number, [])
        for raw in entry.get("paths", []):
            path = shard_path(folder, raw, model_path, format)
            if path is None:
                remote.append(raw)
            group.shards.append(Shard(path or REMOTE, raw))
        _measure(group)
        weights.groups.append(group)
        group_specs = [_spec(spec, group, model_path, format) for spec in specs]
        _locate(weights, group_specs)
        weights.specs.extend(group_specs)
    seen: set[str] = set()
    for spec in weights.specs:
        if spec.name in seen:
            weights.notes.append(f"weight names repeat ({spec.name!r}): only the first of each name is shown")
            break
        seen.add(spec.name)
    if remote:
        weights.notes.append(f"weights served from elsewhere ({remote[0]}): their values are not stored here")
    missing = [s.raw for g in weights.groups for s in g.shards if s.size is None and s.raw not in remote]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        unread = sum(1 for s in weights.specs if _not_stored(s))
        weights.notes.append(f"{shown} not found beside {model_path.name}: {unread} weights' values are not stored")
    return weights


def _not_stored(spec: WeightSpec) -> bool:
    """The weight lies in (or after) a missing shard, or where its offset is unknown."""
    if spec.offset is None or spec.nbytes is None:
        return True
    return spec.offset + spec.nbytes > spec.group.available and not spec.group.complete


def _measure(group: WeightGroup) -> None:
    start = 0
    for shard in group.shards:
        try:
            shard.size = shard.path.stat().st_size if shard.path != REMOTE and shard.path.is_file() else None
        except OSError:
            shard.size = None
        shard.start = start
        if shard.size is None:
            if group.complete:
                group.available = start
            group.complete = False
        else:
            start += shard.size
    if group.complete:
        group.available = start


def _spec(entry: Any, group: WeightGroup, model_path: Path, format: str) -> WeightSpec:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise FormatError(model_path, format, f"a weight of group {group.number} has no name")
    name = entry["name"]
    dtype = entry.get("dtype", "float32")
    if not isinstance(dtype, str):
        raise FormatError(model_path, format, f"weight {name!r} has dtype {dtype!r}")
    quantization = entry.get("quantization")
    if quantization is not None and not isinstance(quantization, dict):
        raise FormatError(model_path, format, f"weight {name!r} has quantization {quantization!r}")
    return WeightSpec(name, dtype, _shape(entry.get("shape"), name, model_path, format), group, quantization)


def _locate(weights: Weights, specs: list[WeightSpec]) -> None:
    """Offsets of a group's weights, back to back; strings' sizes are read from the shards."""
    if not specs:
        return
    group = specs[0].group
    offset = 0
    for spec in specs:
        if spec.dtype == "string" and spec.quantization is None:
            size = _string_bytes(group, offset, spec.count, weights.format)
            if size is None:
                weights.notes.append(
                    f"group {group.number}: the strings of {spec.name!r} cannot be measured; later weights' values are unknown"
                )
                return
        elif spec.storage is not None:
            size = spec.count * spec.storage.itemsize
        else:
            what = (
                f"dtype {spec.dtype!r}"
                if spec.quantization is None
                else f"quantization {spec.quantization.get('dtype')!r}"
            )
            weights.notes.append(
                f"group {group.number}: {spec.name!r} has {what}, unknown to TensorFlow.js; "
                "its and later weights' values are not read"
            )
            return
        spec.offset, spec.nbytes = offset, size
        offset += size
    group.needed = offset
    if group.complete and group.available < offset:
        weights.notes.append(
            f"group {group.number}: its shards hold {group.available:,} bytes, the manifest needs {offset:,}: "
            "weights past the end cannot be read"
        )


def _string_bytes(group: WeightGroup, offset: int, count: int, format: str) -> int | None:
    """Bytes a string weight takes: its elements' length prefixes, read from the shards."""
    if count > MAX_SCANNED_STRINGS:
        return None
    pos, window_start, window = offset, 0, b""
    for _ in range(count):
        if pos + STRING_LENGTH > group.available:
            return None
        if not window_start <= pos or pos + STRING_LENGTH > window_start + len(window):
            window_start = pos
            window = group.read(pos, min(WINDOW, group.available - pos), format)
        local = pos - window_start
        pos += STRING_LENGTH + int.from_bytes(window[local : local + STRING_LENGTH], "little")
    return pos - offset


# -- tensors ----------------------------------------------------------------------------------------


def tensor_for(spec: WeightSpec, format: str) -> Tensor:
    """A lazy Tensor of the weight's values as TensorFlow.js decodes them (dequantized)."""
    quantization = _quantization(spec)
    tensor = Tensor(
        spec.name,
        spec.dtype,
        spec.shape,
        loader=_loader(spec, format),
        byte_size=spec.nbytes,
        location=_location(spec),
        kind="quantized" if quantization is not None else "dense",
        quantization=quantization,
    )
    return tensor


def _location(spec: WeightSpec) -> str:
    group = spec.group
    if spec.offset is None:
        return f"weight group {group.number}"
    shard = group.shard_at(spec.offset)
    if shard is None:
        return f"weight group {group.number} @ {spec.offset}"
    return f"{shard.raw} @ {spec.offset - shard.start}"


def _quantization(spec: WeightSpec) -> Quantization | None:
    q = spec.quantization
    if q is None:
        return None
    stored = str(q.get("dtype"))
    details: dict[str, Any] = {"stored_as": stored}
    if isinstance(q.get("original_dtype"), str):
        details["original_dtype"] = q["original_dtype"]
    if stored == "float16":
        return Quantization(scheme="float16", details=details)
    scale, minimum = q.get("scale"), q.get("min")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (scale, minimum))
    return Quantization(
        scale=[float(scale)] if numbers else [],  # type: ignore[arg-type]
        min=[float(minimum)] if numbers else [],  # type: ignore[arg-type]
        details=details,
    )


def _loader(spec: WeightSpec, format: str) -> Callable[[], np.ndarray] | None:
    group = spec.group
    if spec.offset is None or spec.nbytes is None:
        return None
    end = spec.offset + spec.nbytes
    if end > group.available:
        if not group.complete:
            return None  # in or after a missing shard: not stored
        reason = (
            f"weight {spec.name!r} ends at byte {end:,} of group {group.number}, whose shards hold {group.available:,}"
        )
        return _raiser(group.last_path(), format, reason)
    problem = _quantization_problem(spec)
    if problem:
        return _raiser(group.last_path(), format, problem)
    if spec.dtype == "string" and spec.quantization is None:
        return _string_loader(spec, format)
    storage = spec.storage
    assert storage is not None  # _locate placed only weights with a storage dtype
    raw = _raw_loader(spec, storage, format)
    return lambda: _decode(raw(), spec)


def _quantization_problem(spec: WeightSpec) -> str:
    q = spec.quantization
    if q is None:
        return ""
    stored = q.get("dtype")
    if stored not in QUANTIZED:
        return f"weight {spec.name!r} is quantized as {stored!r}; TensorFlow.js knows uint8, uint16 and float16"
    if stored == "float16" and spec.dtype != "float32":
        return f"weight {spec.name!r} is float16-quantized but its dtype is {spec.dtype}, not float32"
    if stored != "float16":
        if spec.dtype not in ("float32", "int32"):
            return f"weight {spec.name!r} of dtype {spec.dtype} cannot be {stored}-quantized"
        if not all(isinstance(q.get(k), (int, float)) and not isinstance(q.get(k), bool) for k in ("scale", "min")):
            return f"weight {spec.name!r} is {stored}-quantized without a numeric scale and min"
    return ""


def _raiser(path: Path, format: str, reason: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        raise FormatError(path, format, reason)

    return load


def _raw_loader(spec: WeightSpec, storage: np.dtype, format: str) -> Callable[[], np.ndarray]:
    """The stored array: one shard memory-mapped, or the pieces of several joined."""
    group, offset, nbytes = spec.group, spec.offset or 0, spec.nbytes or 0
    shard = group.shard_at(offset)
    if shard is not None and shard.size is not None and offset + nbytes <= shard.start + shard.size:
        return file_slice_loader(shard.path, offset - shard.start, nbytes, storage, spec.shape, format)
    if nbytes == 0:
        return lambda: np.zeros(spec.shape, storage)

    def load() -> np.ndarray:  # across a shard boundary: the bytes are copied once
        return np.frombuffer(group.read(offset, nbytes, format), dtype=storage).reshape(spec.shape)

    return load


def _decode(stored: np.ndarray, spec: WeightSpec) -> np.ndarray:
    """Stored values as TensorFlow.js hands them out: dequantized, bools as bools."""
    q = spec.quantization
    if q is None:
        if spec.dtype == "bool":
            return stored != 0
        return stored.astype(stored.dtype.newbyteorder("=")) if not stored.dtype.isnative else stored
    if q.get("dtype") == "float16":
        return stored.astype(np.float32)
    real = stored.astype(np.float64) * float(q["scale"]) + float(q["min"])  # JavaScript numbers are doubles
    if spec.dtype == "int32":
        return np.floor(real + 0.5).astype(np.int32)  # Math.round: halves round up
    return real.astype(np.float32)


def _string_loader(spec: WeightSpec, format: str) -> Callable[[], np.ndarray]:
    group, offset, nbytes = spec.group, spec.offset or 0, spec.nbytes or 0

    def load() -> np.ndarray:
        raw = group.read(offset, nbytes, format)
        out = np.empty(spec.count, dtype=object)
        pos = 0
        for i in range(spec.count):
            n = int.from_bytes(raw[pos : pos + STRING_LENGTH], "little")
            pos += STRING_LENGTH
            if pos + n > len(raw):
                raise FormatError(group.last_path(), format, f"string weight {spec.name!r} runs past its bytes")
            out[i] = raw[pos : pos + n]
            pos += n
        return out.reshape(spec.shape)

    return load
