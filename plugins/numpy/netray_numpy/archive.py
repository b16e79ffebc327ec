"""The members of an ``.npz`` zip, each checked against its local header and the file's size.

``zipfile`` reads the central directory; the local header of each member (what a reader
really follows to the data) is then read by hand and must agree with it: signature,
name, compression method, sizes (unless a data descriptor follows), and data that
ends inside the file. A stored member's data is then memory-mapped where it lies.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from typing import BinaryIO, Final

# signature, version, flags, method, time, date, crc, compressed size, size, name length, extra length
LOCAL_HEADER: Final = struct.Struct("<4s5H3L2H")
LOCAL_SIGNATURE: Final = b"PK\x03\x04"
ENCRYPTED: Final = 0x1
DATA_DESCRIPTOR: Final = 0x8
UTF8_NAME: Final = 0x800
ZIP64_MARK: Final = 0xFFFFFFFF
READABLE_METHODS: Final = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
NPY_SUFFIX: Final = ".npy"


class ArchiveError(ValueError):
    """The zip's structure is inconsistent; the message names the member."""


@dataclass(frozen=True)
class Member:
    """One ``.npy`` member: its zip entry, tensor name, and where its (maybe compressed) bytes start."""

    info: zipfile.ZipInfo
    name: str
    data_start: int

    @property
    def stored(self) -> bool:
        return self.info.compress_type == zipfile.ZIP_STORED

    @property
    def method(self) -> str:
        return READABLE_METHODS.get(self.info.compress_type, f"method {self.info.compress_type}")


def npy_members(zf: zipfile.ZipFile, f: BinaryIO, size: int) -> tuple[list[Member], list[str]]:
    """The archive's ``.npy`` members in order, and the names of any other members."""
    members: list[Member] = []
    others: list[str] = []
    seen: set[str] = set()
    for info in zf.infolist():
        if info.is_dir():
            continue
        if not info.filename.endswith(NPY_SUFFIX):
            others.append(info.filename)
            continue
        if info.filename in seen:
            raise ArchiveError(f"member {info.filename!r} appears twice in the central directory")
        seen.add(info.filename)
        members.append(Member(info, info.filename[: -len(NPY_SUFFIX)], _data_start(info, f, size)))
    return members, others


def _data_start(info: zipfile.ZipInfo, f: BinaryIO, size: int) -> int:
    """Where the member's data begins, after checking its local header against the central directory."""
    where = f"member {info.filename!r}"
    offset = info.header_offset
    if offset < 0 or offset + LOCAL_HEADER.size > size:
        raise ArchiveError(f"{where}: its local header at {offset} lies past the end of the file")
    f.seek(offset)
    signature, _, flags, method, _, _, _, csize, usize, name_length, extra_length = LOCAL_HEADER.unpack(f.read(LOCAL_HEADER.size))
    if signature != LOCAL_SIGNATURE:
        raise ArchiveError(f"{where}: no local header at {offset} (the central directory points elsewhere)")
    if info.flag_bits & ENCRYPTED or flags & ENCRYPTED:
        raise ArchiveError(f"{where} is encrypted")
    if method != info.compress_type:
        raise ArchiveError(f"{where}: the local header says compression {method}, the central directory {info.compress_type}")
    raw_name = f.read(name_length)
    local_name = raw_name.decode("utf-8" if flags & UTF8_NAME else "cp437", errors="replace")
    if local_name != info.orig_filename:
        raise ArchiveError(f"{where}: its local header names {local_name!r}")
    if not flags & DATA_DESCRIPTOR:
        for label, local, central in (("compressed size", csize, info.compress_size), ("size", usize, info.file_size)):
            if local != ZIP64_MARK and local != central:
                raise ArchiveError(f"{where}: the local header gives {label} {local:,}, the central directory {central:,}")
    start = offset + LOCAL_HEADER.size + name_length + extra_length
    if start + info.compress_size > size:
        raise ArchiveError(f"{where}: its {info.compress_size:,} bytes at {start:,} run past the end of the file ({size:,} bytes)")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise ArchiveError(f"{where} is stored but its sizes differ ({info.compress_size:,} and {info.file_size:,})")
    return start
