"""The netray hooks of the TensorFlow.js plugin: formats, sniffing, loading, operator info.

Readers (and through them the Keras and TensorFlow plugins' builders and protobuf
classes) are imported when a model.json is read, not at start-up.
"""

from __future__ import annotations

from pathlib import Path

from netray import Category, Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_tfjs.formats import FORMATS, GRAPH, LAYERS

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    """A JSON object with modelTopology or weightsManifest; its format key or topology tells the kind."""
    try:
        if path.is_dir():
            return None
        from netray_tfjs.modeljson import model_jsons_for_shard, sniff_kind

        found = sniff_kind(path, head)
        if found is None:
            models = model_jsons_for_shard(path)  # a weight shard opens the model that lists it
            found = (models[0][1], 0.9) if models else None  # (of several, loading says which)
    except Exception:  # sniffing never raises
        return None
    return Claim(*found) if found is not None else None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format not in (LAYERS, GRAPH):
        return None
    from netray_tfjs.reader import read_model

    return read_model(path, format)


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format == LAYERS:
        from netray_keras.layers import LAYERS as KERAS_LAYERS

        spec = KERAS_LAYERS.get(op)
        if spec is None or domain:
            return None
        return OpInfo(category=Category(spec.category), summary=spec.summary)
    if format == GRAPH:
        from netray_tensorflow.operators import INPUT_NAMES, lookup

        found = lookup(op)
        if found is None:
            return None
        return OpInfo(category=found[0], summary=found[1], inputs=[(name, "") for name in INPUT_NAMES.get(op, ())])
    return None
