"""Read a GGUF file into a netray Model: key/values, lazy tensors, the inferred graph."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from netray import Model, Tensor
from netray_gguf.formats import FORMAT
from netray_gguf.header import Header, read_header
from netray_gguf.model_info import describe, truncated_tensors
from netray_gguf.split import Split, read_split
from netray_gguf.structure import infer_graph
from netray_gguf.tensors import build_tensors


def read_gguf(path: Path) -> Model:
    """The model in ``path``; reads the header only (tensor values are read on request).

    A shard of a split model opens the whole model: every shard beside it is read.
    """
    path = Path(path)
    header = read_header(path)
    split = read_split(path, header)
    if split is not None:
        return read_split_model(path, split)
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
    note = _split_note(header.fields, len(tensors))
    if note:
        model.properties["split"] = note
    return model


def _split_note(meta: Mapping[str, object], held: int) -> str:
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


def read_split_model(path: Path, split: Split) -> Model:
    """The model of every shard of ``split`` (key/values from the first), tensors lazy in their shards."""
    first = split.headers.get(1) or split.headers[split.opened]
    tensors: dict[str, Tensor] = {}
    truncated: list[str] = []
    duplicates: list[str] = []
    for number in sorted(split.headers):
        header = split.headers[number]
        held = build_tensors(split.paths[number - 1], header)
        duplicates.extend(name for name in held if name in tensors)
        truncated.extend(truncated_tensors(header, held))
        tensors.update({name: t for name, t in held.items() if name not in tensors})
    model = Model(FORMAT)
    model.format_version = str(first.version)
    model.metadata = dict(first.fields)
    model.tensors = tensors
    describe(model, _whole(first, split), tensors)
    inferred = infer_graph(first.fields, tensors)
    if inferred.graph is not None:
        model.graphs = [inferred.graph]
    model.properties["structure"] = inferred.note
    model.properties["tensor count"] = len(tensors)
    model.properties.pop("truncated", None)
    if truncated:
        model.properties["truncated"] = f"the data of {len(truncated)} tensors lies past the end of their shard: reading them fails"
    names = f"{split.paths[0].name} ... {split.paths[-1].name}"
    holding = f"{len(tensors):,} tensor{'' if len(tensors) == 1 else 's'}"
    model.properties["split"] = f"{split.count} shards ({names}): {len(split.headers)} read, holding {holding}"
    if split.opened != 1:
        model.properties["opened from"] = f"{path.name}, shard {split.opened} of {split.count}"
    if split.problems:
        model.properties["shard problems"] = [f"{split.paths[n - 1].name}: {why}" for n, why in sorted(split.problems.items())]
    if 1 not in split.headers:
        model.properties["key/values"] = f"only {path.name}'s: the first shard, which holds the model's, was not read"
    stated = first.fields.get("split.tensors.count")
    if isinstance(stated, int) and not isinstance(stated, bool) and stated != len(tensors):
        model.properties["split tensors"] = f"the split states {stated:,} tensors; the shards read hold {len(tensors):,}"
    if duplicates:
        model.properties["duplicate tensors"] = f"{len(duplicates)} names in more than one shard (first: {duplicates[0]}); the first shard's kept"
    return model


def _whole(first: Header, split: Split) -> Header:
    """The first shard's header standing for the model: its tensor list is every shard's."""
    tensors = [info for number in sorted(split.headers) for info in split.headers[number].tensors]
    return Header(first.version, first.big_endian, first.fields, tensors, first.alignment, first.data_offset, first.file_size)
