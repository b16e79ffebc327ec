"""netray hooks for TorchScript archives (``torch.jit.save``; .pt .pth .jit .ptl)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netray
from netray import Claim, FormatInfo, Model, OpInfo
from netray_torchscript.formats import FORMATS
from netray_torchscript.sniff import FORMAT, sniff

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for


@netray.hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@netray.hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        confidence = sniff(path, head)
    except Exception:  # sniffing never raises: a file zipfile chokes on is simply not claimed
        return None
    return Claim(FORMAT, confidence) if confidence else None


@netray.hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_torchscript.reader import read_torchscript  # readers only when a file is read

    return read_torchscript(path)


@netray.hookimpl
def netray_load_object(obj: Any, options: dict[str, Any]) -> Model | None:
    """An in-memory ``torch.jit.ScriptModule`` (scripted or traced)."""
    if not any(c.__name__ in ("ScriptModule", "RecursiveScriptModule") and c.__module__.startswith("torch.jit")
               for c in type(obj).__mro__):
        return None
    import torch

    from netray_torchscript.reader import model_from_module

    return model_from_module(torch, obj, f"<{type(obj).__name__}>")


@netray.hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    from netray_pytorch import operators

    return operators.operator_info(op)
