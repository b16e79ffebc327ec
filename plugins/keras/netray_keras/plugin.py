"""The netray hooks of the Keras plugin: declare, sniff, load, document layers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netray
from netray import Category, Claim, FormatInfo, Model, OpInfo
from netray.runtime import Runtime, RuntimeMissing
from netray_keras.archive import FORMAT, HDF5_MAGIC, ZIP_MAGIC, looks_like_keras_archive
from netray_keras.formats import FORMATS
from netray_keras.layers import LAYERS

NETRAY_CONTRACT = "1.2"  # the plugin contract version these hooks were written for

EXTENSIONS = FORMATS[0].extensions


@netray.hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


# Where a Keras 2 file's root attribute names sit: the root group's object header, which h5py
# writes right after the superblock (the names are at byte ~1000 in the files Keras writes).
ATTRIBUTE_WINDOW = 64 << 10


@netray.hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    """A zip with config.json, or an HDF5 file naming a model_config attribute, proves it.

    HDF5 files are recognised by their bytes, without h5py: h5py can loop or crash on a
    damaged file (see :mod:`netray_keras.h5probe`), and sniffing must stay cheap and safe.
    """
    try:
        if head.startswith(ZIP_MAGIC):
            return Claim(FORMAT, 1.0) if looks_like_keras_archive(path) else None
        if head.startswith(HDF5_MAGIC):
            with open(path, "rb") as f:
                window = f.read(ATTRIBUTE_WINDOW)
            if b"model_config\x00" in window:
                return Claim(FORMAT, 1.0)
            if b"model_weights\x00" in window or b"layer_names\x00" in window:
                return Claim(FORMAT, 0.5)  # Keras weights without a config: load explains
            return Claim(FORMAT, 0.2) if path.suffix.lower() in EXTENSIONS else None
    except Exception:  # sniffing never raises
        return None
    return None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_keras.reader import read_keras

    return read_keras(path)


@netray.hookimpl
def netray_load_object(obj: Any, options: dict[str, Any]) -> Model | None:
    """A ``keras.Model`` already in memory (Functional or Sequential)."""
    from netray_keras.objects import model_from_object

    return model_from_object(obj)


@netray.hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    spec = LAYERS.get(op)
    if spec is None or domain:
        return OpInfo(category=Category.CUSTOM, summary="A layer class not from Keras: shown from its saved config, never imported.") if domain else None
    return OpInfo(category=Category(spec.category), summary=spec.summary)


RUNTIME_NAMES = ("", "keras", "torch")


@netray.hookimpl
def netray_runtime(model: Model, name: str) -> Runtime | RuntimeMissing | None:
    """Keras 3 on the torch backend, one layer call at a time (:mod:`netray_keras.runtime`)."""
    if model.format != FORMAT or name not in RUNTIME_NAMES:
        return None
    from netray_keras.runtime import INSTALL, KerasRuntime, missing_packages

    missing = missing_packages()
    if missing:
        return RuntimeMissing(runtime=" and ".join(missing), install=INSTALL)
    return KerasRuntime(model)
