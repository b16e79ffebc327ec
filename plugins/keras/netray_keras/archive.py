"""The .keras v3 archive: a zip of config.json, metadata.json and model.weights.h5.

JSON members are read with a size cap (a zip can claim any uncompressed size).
The weights member, when stored uncompressed (as Keras writes it), is opened
in place through :class:`netray.fileslice.FileSlice` so h5py reads only what it needs and the
datasets' byte offsets map to absolute offsets in the .keras file.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

from netray import FormatError

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"

FORMAT = "Keras"
MAX_JSON_BYTES = 256 << 20
WEIGHTS_MEMBER = "model.weights.h5"


def read_json_member(archive: zipfile.ZipFile, name: str, path: Path) -> Any:
    """A JSON member of the archive, refusing absurd sizes and invalid JSON."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise FormatError(path, FORMAT, f"the archive has no {name}") from None
    if info.file_size > MAX_JSON_BYTES:
        raise FormatError(path, FORMAT, f"{name} claims {info.file_size} bytes, more than netray reads for a config")
    try:
        with archive.open(info) as f:
            data = f.read(MAX_JSON_BYTES + 1)
        return json.loads(data)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RecursionError, NotImplementedError) as exc:
        raise FormatError(path, FORMAT, f"cannot read {name}: {exc}") from exc


def stored_member_offset(path: Path, info: zipfile.ZipInfo) -> int | None:
    """Absolute offset of an uncompressed member's data in the zip file, or None if compressed.

    The local header repeats the name and has its own extra field, so its
    length is read from the header itself rather than the central directory.
    """
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:  # compressed or encrypted
        return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        return None
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    return info.header_offset + 30 + name_length + extra_length


def looks_like_keras_archive(path: Path) -> bool:
    """A zip holding config.json (and usually metadata.json): cheap, reads the central directory only."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return False
    return "config.json" in names and ("metadata.json" in names or WEIGHTS_MEMBER in names)
