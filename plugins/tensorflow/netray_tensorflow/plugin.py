"""The netray hooks of the TensorFlow plugin: formats, sniffing, loading, operator info.

The protobuf classes and the reader are imported when a TensorFlow file is read,
not at start-up: every plugin is imported by every netray command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netray import Claim, FormatError, FormatInfo, Model, OpInfo, hookimpl
from netray_tensorflow.formats import FORMATS
from netray_tensorflow.operators import INPUT_NAMES, lookup
from netray_tensorflow.sniff import (
    CHECKPOINT,
    FINGERPRINT,
    FINGERPRINT_FILE,
    GRAPHDEF,
    METAGRAPH,
    SAVEDMODEL,
    data_shard_index,
    has_table_footer,
    is_fingerprint,
    is_graph_def,
    is_meta_graph,
    is_saved_model,
    text_kind,
)

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for

FORMAT_NAMES = {GRAPHDEF, METAGRAPH, SAVEDMODEL, CHECKPOINT, FINGERPRINT}
GRAPH_FORMATS = {GRAPHDEF, METAGRAPH, SAVEDMODEL}  # formats whose models hold TensorFlow ops
TEXT_EXTENSIONS = (".pbtxt", ".pbtext", ".prototxt", ".txt", ".meta", ".pb")
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    if path.is_dir():
        return Claim(SAVEDMODEL, 1.0) if _folder_holds_saved_model(path) else None
    companion = _companion_claim(path, head)
    if companion is not None:
        return companion
    kind = text_kind(head)
    if kind is not None:
        confidence = 0.9 if path.suffix.lower() in TEXT_EXTENSIONS else 0.7
        return Claim({"GraphDef": GRAPHDEF, "MetaGraph": METAGRAPH, "SavedModel": SAVEDMODEL}[kind], confidence)
    if is_saved_model(head):
        # Tag 0x08 first, as ONNX: claim only with the MetaGraph inside proven, and below a content proof.
        return Claim(SAVEDMODEL, 0.95 if path.name in SAVED_MODEL_FILES else 0.85)
    if is_graph_def(head):
        return Claim(GRAPHDEF, 0.9)
    if is_meta_graph(head):
        return Claim(METAGRAPH, 0.9 if path.suffix.lower() == ".meta" else 0.8)
    return None


def _companion_claim(path: Path, head: bytes) -> Claim | None:
    """Checkpoint indexes and shards, and fingerprint.pb: names that say what content alone cannot."""
    name = path.name.lower()
    if saved_model_of_variables(path) is not None:
        return Claim(SAVEDMODEL, 1.0)  # variables/variables.index or a data shard: opens the SavedModel
    if name.endswith(".index") and has_table_footer(path):
        return Claim(CHECKPOINT, 1.0)
    index = data_shard_index(path)
    if index is not None:
        # A shard is raw tensor bytes: its name and its index beside it are all there is to go by.
        return Claim(CHECKPOINT, 0.95 if has_table_footer(index) else 0.5)
    if name == FINGERPRINT_FILE and is_fingerprint(head):
        return Claim(SAVEDMODEL if _folder_holds_saved_model(path.parent) else FINGERPRINT, 1.0)
    return None


def _folder_holds_saved_model(folder: Path) -> bool:
    """A saved_model.pb(txt) in the folder whose first bytes prove a SavedModel."""
    for name in SAVED_MODEL_FILES:
        file = folder / name
        if file.is_file():
            with open(file, "rb") as f:
                head = f.read(4096)
            if is_saved_model(head) or text_kind(head) == "SavedModel":
                return True
    return False


def saved_model_of_variables(path: Path) -> Path | None:
    """For ``<model>/variables/variables.index`` or one of its data shards, the SavedModel folder ``<model>``."""
    if path.parent.name != "variables":
        return None
    index = path if path.name == "variables.index" else data_shard_index(path)
    if index is None or index.name != "variables.index":
        return None
    root = path.parent.parent
    return root if _folder_holds_saved_model(root) else None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format not in FORMAT_NAMES:
        return None
    from netray_tensorflow.reader import load_graphdef, load_meta_graph, load_saved_model

    if format == SAVEDMODEL:
        return load_saved_model(path)
    if path.is_dir():
        raise FormatError(path, format, "is a folder, not a file")
    if format == METAGRAPH:
        return load_meta_graph(path)
    if format == CHECKPOINT:
        from netray_tensorflow.checkpoint_model import load_checkpoint_or_graph

        return load_checkpoint_or_graph(path)
    if format == FINGERPRINT:
        from netray_tensorflow.fingerprint import load_fingerprint

        return load_fingerprint(path)
    return load_graphdef(path)


@hookimpl
def netray_load_object(obj: Any, options: dict[str, Any]) -> Model | None:
    """A GraphDef message, or a TensorFlow graph (``tf.Graph``, a concrete function) via its GraphDef."""
    is_graph_def_message = type(obj).__name__ == "GraphDef" and hasattr(obj, "SerializeToString")
    if not is_graph_def_message and not type(obj).__module__.startswith("tensorflow"):
        return None
    from netray_tensorflow import protos
    from netray_tensorflow.reader import model_from_graph_def

    graph_def = None
    if is_graph_def_message:
        graph_def = protos.GraphDef()
        graph_def.ParseFromString(obj.SerializeToString())  # tensorflow's or tensorboard's class alike
    elif type(obj).__module__.startswith("tensorflow"):
        graph = getattr(obj, "graph", obj)  # a ConcreteFunction carries its FuncGraph
        if callable(getattr(graph, "as_graph_def", None)):
            graph_def = protos.GraphDef()
            graph_def.ParseFromString(graph.as_graph_def().SerializeToString())
    if graph_def is None:
        return None
    name = str(options.get("name", "graph"))
    return model_from_graph_def(graph_def, Path(f"<{type(obj).__name__}>"), name)


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format not in GRAPH_FORMATS:
        return None
    found = lookup(op)
    if found is None:
        return None
    return OpInfo(category=found[0], summary=found[1], inputs=[(name, "") for name in INPUT_NAMES.get(op, ())])
