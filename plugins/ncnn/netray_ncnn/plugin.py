"""The netray hooks of the ncnn plugin: formats, sniffing, loading, operator info."""

from __future__ import annotations

import re
from pathlib import Path

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_ncnn.formats import FORMAT, FORMAT_BINARY, FORMATS, MAGIC_BYTES

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for

TEXT_HEADER = re.compile(rb"\A\s*7767517\s+\d+\s+\d+\s")
TEXT_MAGIC = re.compile(rb"\A\s*7767517\s")


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


def params_beside(path: Path) -> list[Path]:
    """The params a ``net.bin`` belongs to: ``net.param`` and ``net.param.bin``, files of its own folder."""
    if path.name.lower().endswith(".param.bin"):
        return []
    found = []
    for suffix in (".param", ".param.bin"):
        candidate = path.with_suffix(suffix)
        try:
            if candidate.is_file() and candidate.resolve().parent == path.resolve().parent:
                found.append(candidate)
        except (OSError, RuntimeError):
            return []
    return found


def param_beside(path: Path) -> Path | None:
    """The param a ``net.bin`` belongs to; the text one when both encodings of the network are there."""
    found = params_beside(path)
    return found[0] if found else None


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    """The magic proves a param (text or binary); a .bin is ncnn's weights when a param sits beside it."""
    if head.startswith(MAGIC_BYTES) and len(head) >= 12:
        return Claim(FORMAT_BINARY, 1.0)
    if TEXT_HEADER.match(head):
        return Claim(FORMAT, 1.0)
    if TEXT_MAGIC.match(head):
        return Claim(FORMAT, 0.8)
    if head and path.suffix.lower() == ".bin":
        beside = param_beside(path)
        if beside is not None:
            return Claim(FORMAT_BINARY if beside.name.lower().endswith(".param.bin") else FORMAT, 0.6)
    return None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format not in (FORMAT, FORMAT_BINARY):
        return None
    from netray_ncnn.reader import load

    beside = params_beside(path) if path.suffix.lower() == ".bin" else []
    if not beside:
        return load(path)
    model = load(beside[0])
    also = f" ({beside[1].name}, the same network in binary, is beside it too)" if len(beside) > 1 else ""
    model.properties["opened from"] = f"{path.name}, the weights of {beside[0].name}{also}"
    return model


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format not in (FORMAT, FORMAT_BINARY):
        return None
    from netray_ncnn.operator_table import OPERATORS
    from netray_ncnn.operators import category

    entry = OPERATORS.get(op)
    if entry is None:
        return None
    formula = str(entry.get("formula", ""))
    notes = [str(n) for n in entry.get("notes", [])]  # type: ignore[attr-defined]
    params = [(f"{pid} {name}", f"{kind}, default {default}") for pid, name, kind, default in entry.get("params", [])]  # type: ignore[attr-defined]
    weights = [(name, f"{kind} {shape}") for name, kind, shape in entry.get("weights", [])]  # type: ignore[attr-defined]
    lines = formula.splitlines()
    doc = (f"```\n{formula}\n```\n\n" if formula else "") + "\n".join(f"* {n}" for n in notes)
    return OpInfo(category=category(op), summary=lines[-1] if lines else op, doc=doc, inputs=weights, attributes=params)
