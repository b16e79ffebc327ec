"""netray hooks for PyTorch files: ExportedProgram (.pt2), state_dicts/checkpoints, in-memory modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netray
from netray import Claim, FormatError, FormatInfo, Model, OpInfo
from netray.runtime import Runtime, RuntimeMissing
from netray_pytorch.formats import FORMATS
from netray_pytorch.sniff import EXPORTED_PROGRAM, MAGIC_PICKLE, STATE_DICT, sniff, zip_kind

NETRAY_CONTRACT = "1.2"  # the plugin contract version these hooks were written for

CHECKPOINT = "PyTorch checkpoint"


@netray.hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@netray.hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    found = sniff(path, head)
    return Claim(*found) if found else None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    # The readers are imported here: every plugin is imported by every netray command.
    from netray_pytorch import exported_program, legacy, pickle_file, torch_zip

    if format == EXPORTED_PROGRAM:
        return exported_program.read_pt2(path)
    if format not in (STATE_DICT, CHECKPOINT):
        return None
    with open(path, "rb") as f:
        head = f.read(len(MAGIC_PICKLE))
    if head.startswith(b"PK\x03\x04"):
        if zip_kind(path) == EXPORTED_PROGRAM:
            return exported_program.read_pt2(path)
        return torch_zip.read_torch_zip(path)
    if head == MAGIC_PICKLE:
        return legacy.read_legacy(path)
    if head[:1] == b"\x80":
        return pickle_file.read_pickle(path)
    raise FormatError(path, format, "neither a torch zip archive, a legacy torch.save file nor a pickle")


@netray.hookimpl
def netray_load_object(obj: Any, options: dict[str, Any]) -> Model | None:
    from netray_pytorch.from_module import is_torch_module, load_module

    if not is_torch_module(obj):
        return None
    return load_module(obj, options)


@netray.hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if not format.startswith("PyTorch"):
        return None
    from netray_pytorch import operators

    return operators.operator_info(op)


@netray.hookimpl
def netray_runtime(model: Model, name: str) -> Runtime | RuntimeMissing | None:
    """ExportedProgram files run on torch (an FX interpreter capturing every node); ``name`` "" or "torch"."""
    if model.format != EXPORTED_PROGRAM or name not in ("", "torch"):
        return None
    try:
        import torch  # noqa: F401
    except ImportError:
        return RuntimeMissing(runtime="torch", install="pip install netray-plugin-pytorch[run]")
    from netray_pytorch.run_exported import runtime_for

    return runtime_for(model)
