"""``.npy`` files and ``.npz`` archives as weights-only netray models (tensors, no graph).

Nothing but headers is read here: a ``.npy``'s data and an ``.npz``'s stored members are
memory-mapped when asked for, compressed members are decompressed then. Every header is
checked first: its length against what follows, its shape × itemsize against the bytes
there are, and in an archive each member's local header against the central directory.
Object arrays (pickles) are listed with dtype ``object`` and never read.
"""

from __future__ import annotations

import lzma
import zipfile
import zlib
from collections import Counter
from pathlib import Path

from netray import FormatError, MetaValue, Model, Tensor
from netray.ir import Metadata, TensorLoader
from netray_numpy import loaders
from netray_numpy.archive import READABLE_METHODS, ArchiveError, Member, npy_members
from netray_numpy.dtypes import OBJECT, byte_order, dtype_name, fields_of
from netray_numpy.formats import NPY_FORMAT, NPZ_FORMAT
from netray_numpy.header import HeaderError, NpyHeader, read_header

MAX_LISTED = 50  # names of non-.npy members shown in the properties
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, ValueError, OverflowError, NotImplementedError)


def _metadata(header: NpyHeader) -> Metadata:
    """What the header states, beside netray's dtype name."""
    meta: Metadata = {"descr": header.descr, "npy version": f"{header.version[0]}.{header.version[1]}"}
    if header.fortran_order:
        meta["fortran_order"] = True
    order = byte_order(header.dtype)
    if order is not None and order != "little-endian":
        meta["byte order"] = order
    if header.dtype.names is not None:
        meta["fields"] = fields_of(header.dtype)
    if header.dtype.hasobject:
        meta["note"] = "Python objects, stored as a pickle: netray never unpickles"
    return meta


def _tensor(name: str, header: NpyHeader, loader: TensorLoader, location: str) -> Tensor:
    return Tensor(
        name,
        dtype_name(header.dtype),
        header.shape,
        loader,
        byte_size=header.data_bytes,
        location=location,
        metadata=_metadata(header),
    )


def _check_data(header: NpyHeader, available: int, what: str) -> None:
    """The data the header's shape needs must be there."""
    needed = header.data_bytes
    if needed is not None and header.data_offset + needed > available:
        have = max(0, available - header.data_offset)
        raise HeaderError(
            f"{what}shape {header.shape} × {header.dtype.itemsize}-byte items needs {needed:,} bytes of data; {have:,} follow the header"
        )


def read_npy(path: Path) -> Model:
    """One array, named after the file."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            header = read_header(f.read, size)
    except OSError as exc:
        raise FormatError(path, NPY_FORMAT, f"cannot read the file: {exc.strerror or exc}") from None
    except HeaderError as exc:
        raise FormatError(path, NPY_FORMAT, str(exc)) from None
    try:
        _check_data(header, size, "")
    except HeaderError as exc:
        raise FormatError(path, NPY_FORMAT, str(exc)) from None
    name = path.stem
    if header.dtype.hasobject:
        loader = loaders.refusing_loader(path, NPY_FORMAT, name)
    else:
        loader = loaders.mapped_loader(path, NPY_FORMAT, header.data_offset, header)
    model = Model(NPY_FORMAT)
    model.format_version = f"{header.version[0]}.{header.version[1]}"
    model.tensors[name] = _tensor(name, header, loader, f"{path.name} @ {header.data_offset}")
    _describe(model)
    model.properties["header bytes"] = header.data_offset
    needed = header.data_bytes
    if needed is not None and header.data_offset + needed < size:
        model.properties["trailing bytes"] = size - header.data_offset - needed
    return model


def read_npz(path: Path) -> Model:
    """Every ``.npy`` member of the archive, named by its member name without ``.npy``."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            with zipfile.ZipFile(f) as zf:
                members, others = npy_members(zf, f, size)
                model = Model(NPZ_FORMAT)
                for member in members:
                    model.tensors[member.name] = _member_tensor(path, zf, member)
    except OSError as exc:
        raise FormatError(path, NPZ_FORMAT, f"cannot read the file: {exc.strerror or exc}") from None
    except (ArchiveError, HeaderError) as exc:
        raise FormatError(path, NPZ_FORMAT, str(exc)) from None
    except _ZIP_ERRORS as exc:
        raise FormatError(path, NPZ_FORMAT, f"not a readable zip archive: {exc}") from None
    if not members:
        what = f"only other files ({', '.join(others[:5])})" if others else "no members"
        raise FormatError(path, NPZ_FORMAT, f"the archive holds no .npy arrays: {what}")
    _describe(model)
    compressed = [m for m in members if not m.stored]
    model.properties["compressed"] = bool(compressed)
    if compressed:
        methods = Counter(m.method for m in compressed)
        model.properties["compressed members"] = ", ".join(f"{n} {method}" for method, n in methods.items()) + f" of {len(members)}"
        model.properties["compressed bytes"] = sum(m.info.compress_size for m in members)
    if others:
        listed: list[MetaValue] = list(others[:MAX_LISTED])
        model.properties["other members"] = listed
    return model


def _member_tensor(path: Path, zf: zipfile.ZipFile, member: Member) -> Tensor:
    info = member.info
    what = f"member {info.filename!r}: "
    if info.compress_type not in READABLE_METHODS:
        return Tensor(member.name, None, None, None, location=f"{path.name}:{info.filename} ({member.method}, not readable)")
    if member.stored:
        header = _stored_header(path, member)
    else:
        with zf.open(info) as stream:
            try:
                header = read_header(stream.read, info.file_size)
            except HeaderError as exc:
                raise HeaderError(what + str(exc)) from None
    _check_data(header, info.file_size, what)
    needed = header.data_bytes
    if needed is not None and header.data_offset + needed != info.file_size:
        extra = info.file_size - header.data_offset - needed
        raise HeaderError(f"{what}{extra:,} bytes follow the data its header's shape needs (a hostile or corrupt member)")
    if header.dtype.hasobject:
        loader = loaders.refusing_loader(path, NPZ_FORMAT, member.name)
        location = f"{path.name}:{info.filename}"
    elif member.stored:
        loader = loaders.mapped_loader(path, NPZ_FORMAT, member.data_start + header.data_offset, header)
        location = f"{path.name}:{info.filename} @ {member.data_start + header.data_offset}"
    else:
        loader = loaders.compressed_loader(path, NPZ_FORMAT, info, header)
        location = f"{path.name}:{info.filename} ({member.method}, {info.compress_size:,} bytes)"
    tensor = _tensor(member.name, header, loader, location)
    if not member.stored:
        tensor.metadata["compressed bytes"] = info.compress_size
    return tensor


def _stored_header(path: Path, member: Member) -> NpyHeader:
    info = member.info
    with open(path, "rb") as f:
        f.seek(member.data_start)
        remaining = info.file_size

        def read(n: int) -> bytes:
            nonlocal remaining
            data = f.read(max(0, min(n, remaining)))
            remaining -= len(data)
            return data

        try:
            return read_header(read, info.file_size)
        except HeaderError as exc:
            raise HeaderError(f"member {info.filename!r}: {exc}") from None


def _bytes_by_dtype(tensors: dict[str, Tensor]) -> str:
    """``float32: 4,096 bytes in 2 tensors; int64: ...``, largest first."""
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for t in tensors.values():
        if t.byte_size is not None and t.dtype is not None:
            sizes[t.dtype] += t.byte_size
            counts[t.dtype] += 1
    return "; ".join(f"{d}: {s:,} bytes in {counts[d]:,} tensor{'s' if counts[d] != 1 else ''}" for d, s in sizes.most_common())


def _describe(model: Model) -> None:
    tensors = model.tensors
    model.properties["tensors"] = len(tensors)
    model.properties["parameters"] = sum(t.size or 0 for t in tensors.values())
    model.properties["tensor bytes"] = sum(t.byte_size or 0 for t in tensors.values())
    by_dtype = _bytes_by_dtype(tensors)
    if by_dtype:
        model.properties["bytes by dtype"] = by_dtype
    objects = [name for name, t in tensors.items() if t.dtype == OBJECT]
    if objects:
        model.properties["object arrays (not read)"] = len(objects)
