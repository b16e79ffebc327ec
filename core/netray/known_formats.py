"""Recognising formats no installed plugin reads, to tell the user what to install.

Data, not readers: a few magic bytes and extensions per first-party plugin.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KnownFormat:
    name: str
    distribution: str  # "" where no netray plugin reads the format yet
    extensions: tuple[str, ...]
    magic: tuple[tuple[int, bytes], ...] = ()  # (offset, bytes) any of which proves it


KNOWN_FORMATS: tuple[KnownFormat, ...] = (
    KnownFormat("ONNX", "netray-plugin-onnx", (".onnx", ".onnxtxt", ".ort")),
    KnownFormat("TFLite", "netray-plugin-tflite", (".tflite", ".lite"), ((4, b"TFL3"),)),
    KnownFormat("Keras", "netray-plugin-keras", (".keras", ".h5", ".hdf5"), ((0, b"\x89HDF\r\n\x1a\n"),)),
    KnownFormat(
        "PyTorch",
        "netray-plugin-pytorch",
        (".pt2", ".pt", ".pth", ".pkl", ".ckpt"),
        ((0, b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"),),  # legacy torch.save magic number
    ),
    KnownFormat("TorchScript", "netray-plugin-torchscript", (".jit", ".ptl", ".torchscript")),
    KnownFormat("TensorFlow", "netray-plugin-tensorflow", (".pb", ".pbtxt", ".meta", ".savedmodel")),
    KnownFormat("MXNet", "netray-plugin-mxnet", ("-symbol.json", ".params")),
    # Recognised so the message can say what the file is, though no plugin reads them yet.
    KnownFormat("GGUF", "", (".gguf",), ((0, b"GGUF"),)),
    KnownFormat("safetensors", "", (".safetensors",)),
    KnownFormat("Caffe", "", (".prototxt", ".caffemodel")),
    KnownFormat("Core ML", "", (".mlmodel", ".mlpackage")),
    KnownFormat("Darknet", "", (".cfg",)),
    KnownFormat("ncnn", "", (".param",), ((0, b"7767517"),)),
    KnownFormat("OpenVINO IR", "", (".xml",)),
    KnownFormat("TensorFlow.js", "", ("model.json",)),
)


def _by_name(name: str) -> KnownFormat:
    return next(k for k in KNOWN_FORMATS if k.name == name)


def _torch_zip_family(path: Path) -> KnownFormat | None:
    """A torch zip archive with a ``code/`` folder is TorchScript; other torch zips are PyTorch."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()[:100_000]
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    if any(n.startswith("code/") or "/code/" in n for n in names):
        return _by_name("TorchScript")
    if any(n.endswith("data.pkl") or n.startswith("models/") or "/models/" in n for n in names):
        return _by_name("PyTorch")
    return None


def guess_format(path: Path, head: bytes) -> KnownFormat | None:
    """The first-party format the file most likely is, by content first, then extension."""
    if head.startswith(b"PK\x03\x04") and not path.name.lower().endswith(".keras"):
        family = _torch_zip_family(path)
        if family is not None:
            return family
    for known in KNOWN_FORMATS:
        for offset, magic in known.magic:
            if head[offset : offset + len(magic)] == magic:
                return known
    if path.is_dir() and (path / "saved_model.pb").exists():
        return _by_name("TensorFlow")
    # `.pb` is both ONNX and TensorFlow. An ONNX ModelProto starts with field 1
    # (ir_version, varint): byte 0x08; a GraphDef with field 1 (node, a message): 0x0a.
    name = path.name.lower()
    if name.endswith(".pb"):
        return _by_name("ONNX" if head[:1] == b"\x08" else "TensorFlow")
    for known in KNOWN_FORMATS:
        if any(name.endswith(ext) for ext in known.extensions):
            return known
    return None
