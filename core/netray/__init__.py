"""netray: open any AI model file and see it as an interactive graph.

The names plugins need (``hookimpl``, the IR classes, ``FormatError``) and the
public API (``load_model``, ``save_model``, ``export``, ``show``) live here.
"""

from netray.api import export, load_model, save_model, show
from netray.errors import FormatError, NoReaderError, PluginError
from netray.hookspecs import Claim, FormatInfo, OpInfo, hookimpl
from netray.ir import (
    Attribute,
    AttrKind,
    Category,
    Graph,
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
    shape_text,
)

__version__ = "0.1.0"

__all__ = [
    "Attribute",
    "AttrKind",
    "Category",
    "Claim",
    "FormatError",
    "FormatInfo",
    "Graph",
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
    "save_model",
    "shape_text",
    "show",
    "__version__",
]
