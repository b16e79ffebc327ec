"""``torch.save`` zip archives (``<name>/data.pkl`` + ``<name>/data/<key>``) read without torch."""

from __future__ import annotations

import zipfile
from pathlib import Path

from netray import FormatError, Model
from netray.ir import TensorLoader
from netray_pytorch.state_dict import STATE_DICT, build_model
from netray_pytorch.unpickler import PickledTensor, restricted_load
from netray_pytorch.zipstore import open_zip, zip_tensor_loader


def archive_prefix(names: list[str]) -> str | None:
    """The top folder holding ``data.pkl`` (``archive/`` or the file's stem), or None."""
    for name in names:
        if name.endswith("/data.pkl") and name.count("/") == 1:
            return name[: -len("data.pkl")]
    return None


def read_torch_zip(path: Path) -> Model:
    file_size = path.stat().st_size
    archive = open_zip(path, STATE_DICT)
    with archive, open(path, "rb") as handle:
        names = archive.namelist()
        prefix = archive_prefix(names)
        if prefix is None:
            raise FormatError(path, STATE_DICT, "the zip archive has no <name>/data.pkl")
        if f"{prefix}code/" in {n[: len(prefix) + 5] for n in names}:
            raise FormatError(path, STATE_DICT, "this is a TorchScript archive: pip install netray-plugin-torchscript")
        info = archive.getinfo(prefix + "data.pkl")
        if info.file_size > file_size * 1000 + 1_000_000:  # a zip bomb, not a pickle
            raise FormatError(path, STATE_DICT, "data.pkl claims an implausible size")
        try:
            data = archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise FormatError(path, STATE_DICT, f"cannot read data.pkl: {exc}") from exc
        obj, _ = restricted_load(data, path, STATE_DICT)

        def make_loader(pt: PickledTensor) -> TensorLoader | None:
            return zip_tensor_loader(
                path, archive, f"{prefix}data/{pt.storage.key}", pt.storage.dtype,
                pt.shape, pt.stride, pt.storage_offset, file_size, handle,
            )

        def location(pt: PickledTensor) -> str:
            return f"{path.name}:{prefix}data/{pt.storage.key}"

        model = build_model(obj, make_loader, location)
        version = f"{prefix}version"
        if version in names and archive.getinfo(version).file_size < 64:
            model.format_version = archive.read(version).decode("ascii", "replace").strip()
        model.properties["container"] = "zip (torch.save)"
    return model
