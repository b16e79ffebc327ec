"""Shapes the file does not state, from onnx's own shape inference (its C++ library).

Most exported ONNX files state the shapes of their inputs and outputs only. onnx's
inference, with data propagation (so that ``Reshape`` by a stored shape is followed),
gives every other value its shape, keeping named dimensions (``batch``, ``seq``).

The C++ extension is loaded on its own, without ``import onnx``: onnx's Python package
imports ml_dtypes, whose start-up takes 0.6 s, and opening a file must stay fast. The
extension takes and returns serialized ModelProtos; we parse the answer with our own
message classes (netray_onnx.proto). If onnx is imported later, it finds the extension
already loaded (the same module object, under its own name).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from netray.errors import error_line
from netray.ir import Graph, TensorType
from netray_onnx import proto as onnx_proto

EXTENSION = "onnx.onnx_cpp2py_export"
INFERRED_BY = "onnx shape inference"
# Dimensions onnx names itself for a size it could not compute: unknown to the user too.
_GENERATED_DIM = re.compile(r"^unk__\d+$")


def _extension() -> ModuleType | None:
    loaded = sys.modules.get(EXTENSION)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("onnx")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"onnx_cpp2py_export{suffix}"
            if path.is_file():
                loader = importlib.machinery.ExtensionFileLoader(EXTENSION, str(path))
                ext_spec = importlib.util.spec_from_file_location(EXTENSION, path, loader=loader)
                if ext_spec is None:
                    return None
                module = importlib.util.module_from_spec(ext_spec)
                loader.exec_module(module)
                sys.modules[EXTENSION] = module
                return module
    return None


def infer(structure: bytes) -> Any:
    """The ModelProto with onnx's inferred ``value_info``; raises what onnx raises."""
    extension = _extension()
    if extension is None:
        raise RuntimeError("onnx's shape inference library is not installed")
    inferred = extension.shape_inference.infer_shapes(structure, False, False, True)
    return onnx_proto.ModelProto.FromString(inferred)


def _complete(t: TensorType) -> bool:
    return t.shape is not None and all(d is not None for d in t.shape)


def fill_shapes(graph: Graph, structure: bytes) -> str:
    """Give the graph's values whose shape the file leaves open the inferred one.

    Returns "" on success, or why inference failed (the model opens anyway).
    """
    from netray_onnx.reader import tensor_type

    try:
        proto = infer(structure)
    except Exception as exc:  # onnx's InferenceError and friends: a note, not a failure to open
        return error_line(exc)
    for vi in [*proto.graph.value_info, *proto.graph.output]:
        value = graph.values.get(vi.name)
        if value is None or value.initializer is not None or _complete(value.type):
            continue
        found = tensor_type(vi.type)
        if found.shape is None:
            continue
        shape = tuple(None if isinstance(d, str) and _GENERATED_DIM.match(d) else d for d in found.shape)
        value.type = TensorType(value.type.dtype or found.dtype, shape, value.type.denotation, INFERRED_BY)
    return ""
