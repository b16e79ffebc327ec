"""Open a Caffe file: a .prototxt (with the .caffemodel beside it, if any) or a .caffemodel alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from google.protobuf import text_format

import netray
from netray import Model
from netray_caffe import proto
from netray_caffe.binary import read_caffemodel
from netray_caffe.formats import FORMAT
from netray_caffe.graph import NetInput, Weights, build_graph, net_inputs
from netray_caffe.layers import Layer, from_v1, from_v2, text, text_blob, texts

TEXT_LIMIT = 256 << 20  # a text net larger than this is not a net definition


def is_binary(path: Path) -> bool:
    """A .caffemodel's first byte is a protobuf tag; a .prototxt starts with text."""
    with open(path, "rb") as f:
        head = f.read(512)
    if any(b < 0x20 and b not in (9, 10, 13) for b in head):
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3  # a character cut at the end of the head is still text
    return False


def read_prototxt(path: Path) -> Any:
    """The NetParameter of a text file; fields Caffe forks add (SSD's prior_box_param ...) are skipped."""
    try:
        size = path.stat().st_size
        if size > TEXT_LIMIT:
            raise netray.FormatError(path, FORMAT, f"a {size:,}-byte text net is larger than any net definition")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise netray.FormatError(path, FORMAT, f"not UTF-8 text at byte {exc.start}") from None
    except OSError as exc:
        raise netray.FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from None
    net = proto.NetParameter()
    try:
        text_format.Parse(text, net, allow_unknown_field=True, allow_unknown_extension=True)
    except text_format.ParseError as exc:
        raise netray.FormatError(path, FORMAT, f"not a text NetParameter: {exc}") from None
    except RecursionError:
        raise netray.FormatError(path, FORMAT, "messages nested too deeply") from None
    return net


def layers_of(net: Any, path: Path) -> list[Layer]:
    layers = [from_v1(m) for m in net.layers] + [from_v2(m) for m in net.layer]
    for layer in layers:
        if len(layer.message.blobs):
            layer.blobs = [
                text_blob(b, f"{path.name}: {layer.name} blob {k}") for k, b in enumerate(layer.message.blobs)
            ]
    return layers


def companion(path: Path) -> tuple[Path | None, str]:
    """The .caffemodel that holds a .prototxt's weights: same stem, else the folder's only one.

    Only files in the prototxt's own folder are used (symlinks resolved)."""
    folder = path.resolve().parent
    same = path.with_suffix(".caffemodel")
    if same.is_file():
        candidate, why = same, "same name"
    else:
        models = sorted(p for p in path.parent.glob("*.caffemodel") if p.is_file())
        if len(models) != 1:
            return None, "" if not models else f"{len(models)} .caffemodel files beside it, none of the same name"
        candidate, why = models[0], "the only .caffemodel in the folder"
    if candidate.resolve().parent != folder:
        return None, f"{candidate.name} leads outside the folder; not read"
    return candidate, why


def _syntax(layers: list[Layer]) -> str:
    kinds = Counter(layer.syntax for layer in layers)
    names = {2: "layer (V2)", 1: "layers (V1)", 0: "V0"}
    return ", ".join(names[k] for k in sorted(kinds, reverse=True)) or "no layers"


def _model(net: Any, layers: list[Layer], weights: Weights, path: Path, inputs: list[NetInput]) -> Model:
    graph = build_graph(text(net.name) or path.stem, inputs, layers, weights, path)
    model = Model(FORMAT, [graph])
    model.format_version = _syntax(layers)
    if net.name:
        model.metadata["name"] = text(net.name)
    if net.HasField("force_backward"):
        model.metadata["force_backward"] = bool(net.force_backward)
    if net.HasField("state"):
        state = net.state
        if state.HasField("phase"):
            model.metadata["state.phase"] = "TRAIN" if state.phase == 0 else "TEST"
        if state.HasField("level"):
            model.metadata["state.level"] = int(state.level)
        if state.stage:
            model.metadata["state.stage"] = texts(state.stage)
    model.properties["layers"] = len(layers)
    phased = Counter("/".join(sorted(layer.phases)) for layer in layers if len(layer.phases) != 2)
    if phased:
        model.properties["phase-limited layers"] = ", ".join(f"{n} {p or 'never'}" for p, n in sorted(phased.items()))
        model.properties["phases"] = "all layers are shown; phase-limited ones carry a 'phase' attribute"
    model.properties["blob dtype"] = "float32 (assumed: Caffe files state no type)"
    return model


def load_prototxt(path: Path) -> Model:
    return _load_prototxt(path)[0]


def _load_prototxt(path: Path) -> tuple[Model, Path | None]:
    """The net of a .prototxt, and the .caffemodel whose weights it shows (None when none fits)."""
    net = read_prototxt(path)
    layers = layers_of(net, path)
    if not layers and not len(net.input):
        raise netray.FormatError(path, FORMAT, "no layers and no inputs: not a Caffe net definition")
    weights = Weights()
    unused: list[str] = []
    weights_file, why = companion(path)
    used: Path | None = None
    note = why
    if weights_file is not None:
        try:
            binary = read_caffemodel(weights_file)
        except netray.FormatError as exc:
            note = f"{weights_file.name} not read: {exc.reason}"
        else:
            by_layer = {layer.name: layer.blobs for layer in binary.layers if layer.blobs}
            wanted = {layer.name for layer in layers}
            matched = wanted & set(by_layer)
            if by_layer and not matched:
                note = f"{weights_file.name} ({why}) holds none of this net's layers; not used"
            else:
                weights = Weights(by_layer, True, weights_file.name)
                note = f"{weights_file.name} ({why})"
                unused = sorted(set(by_layer) - wanted)
                used = weights_file
    model = _model(net, layers, weights, path, net_inputs(net))
    model.properties["weights"] = note or "no .caffemodel beside the file: weights not stored"
    if weights.available and unused:
        model.properties["weights file layers not in the net"] = len(unused)
    return model, used


def is_net_definition(path: Path) -> bool:
    """A text file whose head reads as a net (not a solver)."""
    from netray_caffe.sniff import text_net

    try:
        with open(path, "rb") as f:
            return text_net(f.read(4096)) > 0
    except OSError:
        return False


def prototxt_for(caffemodel: Path) -> tuple[list[Path], str]:
    """The net definitions beside a .caffemodel that pair with it, as a .prototxt finds its weights:
    the one of the same name, else those for which it is the folder's only .caffemodel."""
    folder = caffemodel.resolve().parent
    same = caffemodel.with_suffix(".prototxt")
    if same.is_file() and same.resolve().parent == folder and is_net_definition(same):
        return [same], "same name"
    try:
        candidates = sorted(p for p in caffemodel.parent.glob("*.prototxt") if p.is_file())[:64]
    except OSError:
        return [], ""
    pairs = [
        p for p in candidates
        if p.resolve().parent == folder and is_net_definition(p) and companion(p)[0] == caffemodel
    ]
    return pairs, "the only net definition beside it" if len(pairs) == 1 else ""


def load_weights_file(path: Path) -> Model:
    """A .caffemodel: the net definition beside it with these weights when one pairs with it, else the
    binary net on its own (a .caffemodel holds the layers too), saying why."""
    pairs, why = prototxt_for(path)
    note = ""
    if len(pairs) == 1:
        try:
            model, used = _load_prototxt(pairs[0])
        except netray.FormatError as exc:
            note = f"{pairs[0].name} beside it not read ({exc.reason}): opened on its own"
        else:
            if used is not None and used.resolve() == path.resolve():
                model.properties["opened from"] = f"{path.name}, the weights of {pairs[0].name} ({why})"
                return model
            note = f"{pairs[0].name} beside it does not use these weights: opened on its own"
    elif pairs:
        names = ", ".join(p.name for p in pairs[:4]) + (", ..." if len(pairs) > 4 else "")
        note = f"{len(pairs)} net definitions pair with it ({names}): opened on its own; open one of them for its view"
    model = load_caffemodel(path)
    if note:
        model.properties["net definition"] = note
    return model


def load_caffemodel(path: Path) -> Model:
    binary = read_caffemodel(path)
    net = binary.header
    if not binary.layers and not len(net.input):
        raise netray.FormatError(path, FORMAT, "no layers: not a Caffe net")
    model = _model(net, binary.layers, Weights({}, True, path.name), path, net_inputs(net))
    model.properties["weights"] = f"{path.name} (blobs read lazily)"
    return model


def load(path: Path) -> Model:
    if path.is_dir():
        raise netray.FormatError(path, FORMAT, "a folder, not a .prototxt or .caffemodel")
    try:
        binary = is_binary(path)
    except OSError as exc:
        raise netray.FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from None
    return load_weights_file(path) if binary else load_prototxt(path)
