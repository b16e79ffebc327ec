"""Model-level facts of a TFLite file: metadata entries, signature defs, sparsity.

Kept apart from the graph reader because these are descriptive only: nothing
here changes the graph, it fills ``Model.metadata``/``properties`` and
``Graph.metadata`` for the model panel.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flatbuffers import table as fb_table

from netray import Graph, Model
from netray_tflite.options import enum_names

# Metadata buffers larger than this are described by size, not read.
MAX_METADATA_READ = 1 << 16


@dataclass(frozen=True)
class Span:
    """Where a buffer's bytes lie in the file."""

    offset: int
    length: int


Counter = Callable[..., int]


def add_metadata(model: Model, fb: Any, buffers: Sequence[Span | None], buf: mmap.mmap, count: Counter) -> None:
    """``Model.metadata`` entries: min_runtime_version as text, TFLite Support name, others by size."""
    for i in range(count(fb.MetadataLength(), "metadata")):
        entry = fb.Metadata(i)
        raw_name = entry.Name()
        name = raw_name.decode("utf-8", "replace") if raw_name else f"metadata_{i}"
        index = entry.Buffer()
        span = buffers[index] if 0 <= index < len(buffers) else None
        if span is None:
            model.metadata[name] = "(empty)"
            continue
        if span.offset + span.length > len(buf):
            model.metadata[name] = f"<{span.length} bytes past the end of the file>"
            continue
        data = bytes(buf[span.offset : span.offset + min(span.length, MAX_METADATA_READ)])
        if name == "min_runtime_version":
            model.metadata[name] = data.split(b"\0", 1)[0].decode("ascii", "replace") or "(not set)"
            model.properties["min_runtime_version"] = model.metadata[name]
        elif name == "TFLITE_METADATA":
            support_name = support_metadata_name(data)
            model.metadata[name] = f"TFLite Support metadata, {span.length} bytes"
            if support_name:
                model.properties["support_metadata_name"] = support_name
                model.description = model.description or support_name
        else:
            model.metadata[name] = f"<{span.length} bytes>"


def support_metadata_name(data: bytes) -> str:
    """The ``name`` field of a TFLite Support ``ModelMetadata`` flatbuffer ("M001"), or ''."""
    if len(data) < 8 or data[4:8] != b"M001":
        return ""
    try:
        root = struct.unpack_from("<I", data, 0)[0]
        tab = fb_table.Table(bytearray(data), root)
        o = tab.Offset(4)  # ModelMetadata.name is the first field
        return tab.String(o + tab.Pos).decode("utf-8", "replace") if o else ""
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        return ""


def add_signatures(model: Model, fb: Any, graphs: list[Graph], count: Counter) -> None:
    """Signature defs as model properties, and on the graph each one runs."""
    for i in range(count(fb.SignatureDefsLength(), "signature_defs")):
        sig = fb.SignatureDefs(i)
        raw_key = sig.SignatureKey()
        key = raw_key.decode("utf-8", "replace") if raw_key else f"signature_{i}"
        index = sig.SubgraphIndex()
        graph = graphs[index] if 0 <= index < len(graphs) else None

        inputs = _tensor_maps(sig, "Inputs", graph, count)
        outputs = _tensor_maps(sig, "Outputs", graph, count)
        text = f"subgraph {index}; inputs: {', '.join(inputs) or '-'}; outputs: {', '.join(outputs) or '-'}"
        model.properties[f"signature {key}"] = text
        if graph is not None:
            graph.metadata["signature"] = key
            graph.metadata[f"signature {key}"] = text


def _tensor_maps(sig: Any, getter: str, graph: Graph | None, count: Counter) -> list[str]:
    """``label=tensor name`` for each entry of a signature's inputs or outputs."""
    found = []
    for j in range(count(getattr(sig, getter + "Length")(), "signature tensors")):
        m = getattr(sig, getter)(j)
        label = (m.Name() or b"").decode("utf-8", "replace")
        tensor = _tensor_name(graph, m.TensorIndex())
        found.append(f"{label}={tensor}" if tensor else label)
    return found


def _tensor_name(graph: Graph | None, tensor_index: int) -> str:
    if graph is None:
        return ""
    for v in graph.values.values():
        if v.metadata.get("tensor_index") == str(tensor_index):
            return v.name
    return ""


def sparsity_metadata(sparsity: Any, count: Counter) -> dict[str, str]:
    """Sparsity parameters of a sparse constant as readable text."""
    formats = enum_names("DimensionType")
    traversal = [int(x) for x in sparsity.TraversalOrderAsNumpy()] if count(sparsity.TraversalOrderLength(), "traversal_order") else []
    block_map = [int(x) for x in sparsity.BlockMapAsNumpy()] if count(sparsity.BlockMapLength(), "block_map") else []
    dims = []
    for i in range(count(sparsity.DimMetadataLength(), "dim_metadata")):
        d = sparsity.DimMetadata(i)
        fmt = formats.get(d.Format(), str(d.Format()))
        dims.append(f"{fmt}({d.DenseSize()})" if fmt == "DENSE" else fmt)
    return {
        "sparsity.traversal_order": str(traversal),
        "sparsity.block_map": str(block_map),
        "sparsity.dim_metadata": ", ".join(dims),
    }
