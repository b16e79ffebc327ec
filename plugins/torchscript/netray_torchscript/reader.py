"""Reading a TorchScript archive through torch (``torch.jit.load`` on the CPU).

TorchScript code is interpreted by torch, never run as Python, so loading is safe
in that sense; the module's tensors are in memory once loaded, so weights are
"lazy" only in that their numpy copies are made on request.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from netray import FormatError, Model, Tensor
from netray_torchscript.convert import FOLDED_KINDS, GraphConverter
from netray_torchscript.sniff import FORMAT
from netray_torchscript.torch_messages import one_line, warnings_collected

ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError)


def _archive_facts(path: Path) -> dict[str, str]:
    facts: dict[str, str] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            top = names[0].split("/", 1)[0] if names else ""
            facts["archive"] = top
            for key in ("version", ".data/version"):
                member = f"{top}/{key}"
                if member in names and archive.getinfo(member).file_size < 32:
                    facts["version"] = archive.read(member).decode("ascii", "replace").strip()
                    break
            facts["mobile bytecode"] = "yes" if f"{top}/bytecode.pkl" in names else "no"
    except ZIP_ERRORS as exc:
        raise FormatError(path, FORMAT, f"not a readable zip archive ({one_line(exc)})") from exc
    return facts


def _load(path: Path) -> tuple[Any, Any, list[str]]:
    """torch, the loaded module, and the warnings torch gave while loading it."""
    try:
        import torch
    except ImportError as exc:
        raise FormatError(path, FORMAT, "reading TorchScript needs PyTorch: pip install torch") from exc
    try:
        with warnings_collected() as said:
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch's own reader rejects the archive: its first meaningful line
        raise FormatError(path, FORMAT, f"torch.jit.load failed: {one_line(exc)}") from exc
    return torch, module, said


def module_state(module: Any) -> dict[str, Any]:
    """Parameters and buffers by dotted path (``b1.conv.weight``)."""
    state = dict(module.named_buffers())
    state.update(dict(module.named_parameters()))
    return state


def model_from_module(torch: Any, module: Any, where: Path | str) -> Model:
    """Graphs of a loaded ScriptModule: forward first, then its other methods."""
    methods = list(module._c._method_names())
    if not methods:
        raise FormatError(where, FORMAT, "the module has no methods")
    methods.sort(key=lambda m: m != "forward")
    state = module_state(module)
    graphs = []
    weights: dict[str, Tensor] = {}
    for name in methods:
        try:
            graph = module._c._get_method(name).graph.copy()
            torch._C._jit_pass_inline(graph)
        except Exception as exc:
            raise FormatError(where, FORMAT, f"cannot read method {name!r}: {one_line(exc)}") from exc
        converted = GraphConverter(state, weights).convert(graph, name)
        converted.kind = "main" if name == methods[0] else "method"
        graphs.append(converted)
    model = Model(FORMAT, graphs)
    model.producer = "PyTorch"
    model.producer_version = str(torch.__version__)
    try:
        model.description = str(module._c._type().name())
    except Exception:
        model.description = type(module).__name__
    model.properties["methods"] = ", ".join(methods)
    model.properties["counted operations"] = f"nodes of {methods[0]}'s inlined graph except {', '.join(FOLDED_KINDS)} and constant lists"
    model.properties["weights"] = "read from the module loaded in memory"
    return model


def read_torchscript(path: Path) -> Model:
    try:
        with zipfile.ZipFile(path):
            pass
    except ZIP_ERRORS as exc:
        raise FormatError(path, FORMAT, f"the zip archive is truncated or damaged ({one_line(exc)})") from exc
    facts = _archive_facts(path)
    torch, module, said = _load(path)
    model = model_from_module(torch, module, path)
    model.format_version = facts.pop("version", "")
    model.properties.update(facts)
    if said:
        model.properties["torch warnings"] = "; ".join(dict.fromkeys(said))
    return model
