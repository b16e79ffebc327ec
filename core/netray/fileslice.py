"""A window of a file seen as a file of its own: for readers of formats that embed one
file in another (an uncompressed zip member: Keras' model.weights.h5, torch.save
archives inside a .pt2), so libraries such as h5py and zipfile read it in place."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any


class FileSlice(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes at ``offset`` of a file."""

    def __init__(self, path: str | Path, offset: int, length: int) -> None:
        super().__init__()
        self._file = open(path, "rb")
        self._offset = offset
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._length - self._pos))
        if n == 0:
            return 0
        self._file.seek(self._offset + self._pos)
        got = self._file.readinto(view[:n]) or 0
        self._pos += got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()
