"""A TensorFlow checkpoint opened on its own: a weights-only Model of every variable it holds.

The user opens ``prefix.index`` or one of its ``prefix.data-NNNNN-of-NNNNN`` shards;
both read the index. Each entry becomes a named tensor (``Model.tensors``, keyed by
its checkpoint key) with its dtype and shape, whose values are memory-mapped from
its data shard when asked for. A missing data shard leaves its tensors without values
(said in one property line); a missing index is an error naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

from netray import FormatError, Model
from netray_tensorflow.checkpoint import ENDIANNESS, OBJECT_GRAPH_KEY, Bundle, read_bundle
from netray_tensorflow.formats import CHECKPOINT
from netray_tensorflow.sniff import data_shard_index


def index_for(path: Path) -> Path:
    """The index a checkpoint file belongs to: itself, or the ``.index`` beside a data shard."""
    index = data_shard_index(path)
    if index is None:
        return path
    if not index.is_file():
        raise FormatError(path, CHECKPOINT, f"a data shard without its index: {index.name} is not beside it")
    return index


def meta_graph_beside(path: Path) -> Path | None:
    """The TF1 ``<prefix>.meta`` beside a checkpoint's ``<prefix>.index`` (or a data shard of it), a file of its folder."""
    index = data_shard_index(path) or path
    if not index.name.endswith(".index"):
        return None
    meta = index.with_name(index.name.removesuffix(".index") + ".meta")
    try:
        return meta if meta.is_file() and meta.resolve().parent == path.resolve().parent else None
    except (OSError, RuntimeError):
        return None


def load_checkpoint_or_graph(path: Path) -> Model:
    """A checkpoint file: the MetaGraph beside it whose variables it holds, else the checkpoint on its own."""
    meta = meta_graph_beside(path)
    note = ""
    if meta is not None:
        from netray_tensorflow.reader import load_meta_graph

        try:
            model = load_meta_graph(meta)
        except FormatError as exc:
            note = f"{meta.name} beside it not read ({exc.reason})"
        else:
            given = re.search(r", (\d+) given to variable nodes$", str(model.properties.get("variables", "")))
            if given and int(given.group(1)) > 0:
                model.properties["opened from"] = f"{path.name}, the variables of {meta.name}"
                return model
            note = f"{meta.name} beside it gives none of these variables to its graph"
    model = load_checkpoint(path)
    if note:
        model.properties["graph"] = note
    return model


def load_checkpoint(path: Path) -> Model:
    index = index_for(path)
    bundle = read_bundle(index)
    model = Model(CHECKPOINT)
    model.source = index
    model.producer = "TensorFlow"
    model.format_version = "V2"  # TensorBundle is SaverDef's V2 checkpoint format
    model.tensors = {entry.key: bundle.tensor(entry) for entry in bundle.entries}
    if not model.tensors:
        raise FormatError(index, CHECKPOINT, "the checkpoint holds no tensors")
    _describe(model, bundle, path)
    return model


def _describe(model: Model, bundle: Bundle, opened: Path) -> None:
    """The header, the shards, and where the graph that uses these variables lives."""
    header = bundle.header
    props = model.properties
    props["data shards"] = header.num_shards
    props["byte order"] = ENDIANNESS[header.endianness]
    if header.version_text():
        props["bundle version"] = header.version_text()
    props["entries"] = len(bundle.entries)
    if bundle.slice_keys:
        props["slice entries"] = f"{bundle.slice_keys} slices of partitioned tensors (not listed on their own)"
    if opened != bundle.index_path:
        props["opened from"] = f"{opened.name}, a data shard of {bundle.index_path.name}"
    missing = [bundle.data_path(s).name for s in bundle.shard_ids() if 0 <= s < header.num_shards]
    missing = [name for name in missing if not (bundle.index_path.parent / name).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        props["missing shards"] = f"{shown} not found beside the index: their tensors' values are not stored"
        for tensor in model.tensors.values():
            if tensor.location.split(" @ ")[0] in missing:
                tensor.loader = None
    _object_graph(model, bundle, set(missing))
    _siblings(model, bundle.index_path)


def _object_graph(model: Model, bundle: Bundle, missing: set[str]) -> None:
    """TF2 checkpoints: how many trackable objects the object graph names (read from a shard)."""
    from netray_tensorflow.checkpoint import object_graph

    entry = next((e for e in bundle.entries if e.key == OBJECT_GRAPH_KEY), None)
    if entry is None or bundle.data_path(entry.shard).name in missing:
        return
    try:
        graph = object_graph(bundle)
    except FormatError as exc:
        model.properties["object graph"] = f"not read: {exc.reason}"
        return
    if graph is not None:
        nodes = list(graph.nodes)  # type: ignore[attr-defined]
        values = sum(1 for n in nodes for a in n.attributes if a.name == "VARIABLE_VALUE")
        model.properties["object graph"] = f"{len(nodes)} trackable objects, {values} variable values"


def _siblings(model: Model, index: Path) -> None:
    """A hint where the graph is: the SavedModel this is the variables of, or a TF1 .meta beside it."""
    folder = index.parent
    if folder.name == "variables" and any(
        (folder.parent / n).is_file() for n in ("saved_model.pb", "saved_model.pbtxt")
    ):
        model.properties["graph"] = (
            f"the variables of the SavedModel {folder.parent.name}/: open that folder for its graph"
        )
        return
    meta = index.with_name(index.name.removesuffix(".index") + ".meta")
    if meta.is_file():
        model.properties["graph"] = f"{meta.name} beside it holds the graph that uses these variables"
