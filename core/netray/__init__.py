"""netray: open any AI model file and see it as an interactive graph.

The names plugins need (``hookimpl``, the IR classes, ``FormatError``) and the
public API (``load_model``, ``save_model``, ``export``, ``show``) live here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netray.api import export, load_model, save_model, show
    from netray.errors import FormatError, NoReaderError, PluginError
    from netray.hookspecs import CONTRACT_VERSION, Claim, FormatInfo, OpInfo, hookimpl
    from netray.ir import (
        Attribute,
        AttrKind,
        Category,
        Graph,
        Metadata,
        MetaValue,
        Model,
        Node,
        Port,
        Quantization,
        Shape,
        SourceLocation,
        Tensor,
        TensorType,
        Value,
        file_slice_loader,
        meta_text,
        shape_text,
    )

# Where each public name lives. They are imported on first use (PEP 562), so that
# importing a submodule (``netray.cli``) does not load numpy and the IR first: the
# CLI sets up its process before that (see netray.cli.main).
_HOMES = {
    "export": "netray.api",
    "load_model": "netray.api",
    "save_model": "netray.api",
    "show": "netray.api",
    "FormatError": "netray.errors",
    "NoReaderError": "netray.errors",
    "PluginError": "netray.errors",
    "CONTRACT_VERSION": "netray.hookspecs",
    "Claim": "netray.hookspecs",
    "FormatInfo": "netray.hookspecs",
    "OpInfo": "netray.hookspecs",
    "hookimpl": "netray.hookspecs",
    **dict.fromkeys(
        (
            "Attribute",
            "AttrKind",
            "Category",
            "Graph",
            "Metadata",
            "MetaValue",
            "Model",
            "Node",
            "Port",
            "Quantization",
            "Shape",
            "SourceLocation",
            "Tensor",
            "TensorType",
            "Value",
            "file_slice_loader",
            "meta_text",
            "shape_text",
        ),
        "netray.ir",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'netray' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__version__ = "0.1.0"

__all__ = [
    "CONTRACT_VERSION",
    "Attribute",
    "AttrKind",
    "Category",
    "Claim",
    "FormatError",
    "FormatInfo",
    "Graph",
    "MetaValue",
    "Metadata",
    "Model",
    "NoReaderError",
    "Node",
    "OpInfo",
    "PluginError",
    "Port",
    "Quantization",
    "Shape",
    "SourceLocation",
    "Tensor",
    "TensorType",
    "Value",
    "export",
    "file_slice_loader",
    "hookimpl",
    "load_model",
    "meta_text",
    "save_model",
    "shape_text",
    "show",
    "__version__",
]
