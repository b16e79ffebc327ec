"""Zip archives stored inside a zip (legacy ``.pt2``: ``serialized_state_dict.pt`` is a torch.save archive).

When the outer member is stored uncompressed, the inner archive is a slice of the
file: it is opened in place (only its directory and data.pkl are read) and its
tensors become slices of the outer file, memory-mapped like any other.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from netray import FormatError
from netray.fileslice import FileSlice
from netray.ir import TensorLoader
from netray_pytorch.unpickler import PickledTensor, restricted_load
from netray_pytorch.zipstore import member_data_offset, zip_tensor_loader


def nested_state_dict(path: Path, outer: zipfile.ZipFile, member: str, format: str) -> dict[str, TensorLoader | None]:
    """Loaders for every tensor of the torch.save archive stored as ``member`` (fully qualified name -> loader)."""
    info = outer.getinfo(member)
    file_size = path.stat().st_size
    if info.compress_type != zipfile.ZIP_STORED:
        return {}  # a compressed inner archive would have to be inflated whole: weights listed without values
    start = member_data_offset(path, info, file_size)
    with FileSlice(path, start, info.file_size) as window:
        head = window.read(4)
        window.seek(0)
        if head != b"PK\x03\x04":
            return {}
        try:
            inner = zipfile.ZipFile(window)  # type: ignore[arg-type]
        except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError) as exc:
            raise FormatError(path, format, f"{member} is not a readable archive ({exc})") from exc
        with inner:
            pickles = [n for n in inner.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if not pickles:
                return {}
            prefix = pickles[0][: -len("data.pkl")]
            data_info = inner.getinfo(pickles[0])
            if data_info.file_size > info.file_size * 1000 + 1_000_000:
                raise FormatError(path, format, f"{member}: data.pkl claims an implausible size")
            obj, _ = restricted_load(inner.read(data_info), path, format)
            if not isinstance(obj, dict):
                return {}
            loaders: dict[str, TensorLoader | None] = {}
            for key, pt in obj.items():
                if isinstance(pt, PickledTensor):
                    loaders[str(key)] = zip_tensor_loader(
                        path, inner, f"{prefix}data/{pt.storage.key}", pt.storage.dtype, pt.shape, pt.stride,
                        pt.storage_offset, info.file_size, handle=window, base=start, outer_size=file_size,  # type: ignore[arg-type]
                    )
            return loaders
