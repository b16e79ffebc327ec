"""netray hooks for TorchScript archives (``torch.jit.save``; .pt .pth .jit .ptl)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import netray
from netray import Claim, FormatInfo, Model, OpInfo
from netray.runtime import Runtime, RuntimeMissing
from netray_torchscript.formats import FORMATS
from netray_torchscript.sniff import FORMAT, sniff

NETRAY_CONTRACT = "1.2"  # the plugin contract version these hooks were written for


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


@netray.hookimpl
def netray_runtime(model: Model, name: str) -> Runtime | RuntimeMissing | None:
    """TorchScript files run on torch's interpreter, capturing the inlined main graph's values."""
    if model.format != FORMAT or name not in ("", "torch"):
        return None
    try:
        import torch  # noqa: F401
    except ImportError:
        return RuntimeMissing(runtime="torch", install="pip install netray-plugin-torchscript[run]")
    from netray_torchscript.run import runtime_for

    return runtime_for(model)
