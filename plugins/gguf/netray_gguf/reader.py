"""Read a GGUF file into a netray Model: key/values, lazy tensors, the inferred graph."""

from __future__ import annotations

from pathlib import Path

from netray import Model
from netray_gguf.formats import FORMAT
from netray_gguf.header import read_header
from netray_gguf.model_info import describe
from netray_gguf.structure import infer_graph
from netray_gguf.tensors import build_tensors


def read_gguf(path: Path) -> Model:
    """The model in ``path``; reads the header only (tensor values are read on request)."""
    path = Path(path)
    header = read_header(path)
    model = Model(FORMAT)
    model.format_version = str(header.version)
    model.metadata = header.fields
    tensors = build_tensors(path, header)
    model.tensors = tensors
    describe(model, header, tensors)
    inferred = infer_graph(header.fields, tensors)
    if inferred.graph is not None:
        model.graphs = [inferred.graph]
    model.properties["structure"] = inferred.note
    split = _split_note(header.fields, len(tensors))
    if split:
        model.properties["split"] = split
    return model


def _split_note(meta: dict[str, object], held: int) -> str:
    """A shard of a split model (gguf-split) says which one it is and what the others hold."""
    count, number, total = meta.get("split.count"), meta.get("split.no"), meta.get("split.tensors.count")
    if not isinstance(count, int) or isinstance(count, bool) or count <= 1:
        return ""
    which = (
        f"shard {number + 1} of {count}"
        if isinstance(number, int) and not isinstance(number, bool)
        else f"one of {count} shards"
    )
    of_total = f" of the model's {total:,}" if isinstance(total, int) and not isinstance(total, bool) else ""
    return f"{which}: this file holds {held:,}{of_total} tensors; the other shards are separate files"
