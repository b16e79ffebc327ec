"""A Darknet cfg (and the .weights beside it) -> netray Model.

Each section after ``[net]`` is one node, titled by the section name as the cfg writes
it and named by its layer index (the number ``route`` and ``shortcut`` refer to and
Darknet prints). Activations stay attributes of their layer, as Darknet and Netron
show them: a layer *is* convolution + batch norm + activation in Darknet, and one box
per section keeps the boxes in step with the indices the cfg's ``layers=-4`` count.
"""

from __future__ import annotations

from pathlib import Path

from netray import (
    Attribute,
    AttrKind,
    Category,
    FormatError,
    Graph,
    Model,
    Node,
    Port,
    Tensor,
    TensorType,
    Value,
    file_slice_loader,
)
from netray_darknet.cfg import parse_cfg, read_text
from netray_darknet.formats import FORMAT
from netray_darknet.network import ALEXEYAB, PJREDDIE, Layer, Network, build_network
from netray_darknet.operators import lookup
from netray_darknet.weights import Placement, implied_size, place, read_header

WEIGHT_ORDER = {"weights": 0, "biases": 1, "scales": 2, "rolling_mean": 3, "rolling_variance": 4}
FORK = {PJREDDIE: "pjreddie/darknet", ALEXEYAB: "AlexeyAB/darknet"}


def companion(path: Path, suffix: str) -> Path | None:
    """``yolov3.cfg`` -> ``yolov3.weights`` in the same folder, if it is a file there (symlinks must stay inside)."""
    candidate = path.with_suffix(suffix)
    try:
        if not candidate.is_file():
            return None
        if candidate.resolve().parent != path.resolve().parent:
            return None
    except OSError:
        return None
    return candidate


def attribute(key: str, value: object, default: bool) -> Attribute:
    attr = Attribute.of(key, value) or Attribute(key, AttrKind.STRING, str(value))
    if default:
        attr.doc = "Darknet's default: not written in the cfg"
    return attr


def output_shape(layer: Layer, batch: int) -> tuple[int | None, ...] | None:
    if layer.image and not layer.flat:
        return (batch, layer.c, layer.h, layer.w)
    if layer.outputs is not None and layer.outputs > 0:
        return (batch, layer.outputs)
    return None


def choose_batchnorm_dialect(network: Network, cfg_path: Path, weights_path: Path | None) -> None:
    """A cfg both forks read alike but with [batchnorm]: pjreddie's 3 arrays or AlexeyAB's 4? The file size tells."""
    if (
        weights_path is None
        or not network.dialect_reason.startswith("uses only")
        or not any(layer.kind == "batchnorm" for layer in network.layers)
    ):
        return
    header, size = read_header(weights_path, network.dialect)
    if implied_size(network.layers, header.size) == size:
        return
    other = build_network(cfg_path, parse_cfg(cfg_path, read_text(cfg_path)), ALEXEYAB)
    if implied_size(other.layers, header.size) == size:
        network.layers = other.layers
        network.dialect = ALEXEYAB
        network.dialect_reason = (
            "read as AlexeyAB/darknet: its [batchnorm] layout (4 arrays) matches the size of the .weights"
        )


def build_graph(path: Path, network: Network, placement: Placement | None) -> Graph:
    graph = Graph(path.stem, kind="main")
    batch = network.batch
    if network.c and network.h and network.w:
        in_shape: tuple[int, ...] = (batch, network.c, network.h, network.w)
    else:
        in_shape = (batch, network.inputs)
    data = graph.value("data", TensorType("float32", in_shape))
    graph.inputs.append(data)
    outputs: list[Value] = []
    for layer in network.layers:
        spec = lookup(layer.section.type)
        out = graph.value(f"layer{layer.index}", TensorType("float32", output_shape(layer, batch)))
        node = Node(
            layer.section.type,
            name=str(layer.index),
            category=spec.category if spec else Category.OTHER,
            attributes=[attribute(k, v, d) for k, v, d in layer.attrs],
            outputs=[Port("output", [out])],
        )
        sources = [data if i < 0 else graph.values[f"layer{i}"] for i in layer.inputs]
        if layer.kind == "route":
            node.inputs.append(Port("layers", sources))
        elif layer.kind in ("shortcut", "sam", "scale_channels") and len(sources) > 1:
            node.inputs += [Port("input", sources[:1]), Port("from", sources[1:])]
        elif sources:
            node.inputs.append(Port("input", sources))
        for weight in sorted(layer.weights, key=weight_rank):
            value = graph.value(f"layer{layer.index}.{weight.name}")
            tensor = placement.tensors.get((layer.index, weight.name)) if placement else None
            if tensor is None:
                tensor = Tensor(
                    value.name,
                    "float32",
                    weight.shape,
                    byte_size=None if weight.count is None else weight.count * 4,
                    location="no .weights beside the cfg: not stored",
                )
            value.initializer = tensor
            value.type = TensorType("float32", tensor.shape)
            node.inputs.append(Port(weight.name, [value]))
        node.metadata["line"] = layer.section.line
        defaults = [k for k, _, d in layer.attrs if d]
        if defaults:
            node.metadata["defaults filled"] = defaults
        if layer.notes:
            node.metadata["note"] = "; ".join(layer.notes)
        graph.add_node(node)
        if layer.head:
            outputs.append(out)
    if network.layers:
        last = next((layer for layer in reversed(network.layers) if layer.kind != "cost"), network.layers[-1])
        final = graph.values[f"layer{last.index}"]
        if final not in outputs:
            outputs.append(final)
    graph.outputs = outputs
    return graph.link()


def weight_rank(spec: object) -> tuple[str, int]:
    name = getattr(spec, "name", "")
    prefix, _, leaf = name.rpartition(".")
    return (prefix, WEIGHT_ORDER.get(leaf, 9))


def load_cfg(path: Path, weights_path: Path | None = None) -> Model:
    text = read_text(path)
    cfg = parse_cfg(path, text)
    network = build_network(path, cfg)
    if weights_path is None:
        weights_path = companion(path, ".weights")
    choose_batchnorm_dialect(network, path, weights_path)
    placement: Placement | None = None
    model = Model(FORMAT)
    model.properties["dialect"] = f"{FORK[network.dialect]}: {network.dialect_reason}"
    model.properties["layers"] = len(network.layers)
    if network.c and network.h and network.w:
        model.properties["input"] = (
            f"{network.w}x{network.h}x{network.c} (width x height x channels), batch {network.batch}"
        )
    else:
        model.properties["input"] = f"{network.inputs} values, batch {network.batch}"
    if weights_path is not None:
        header, size = read_header(weights_path, network.dialect)
        placement = place(weights_path, network.layers, header, size)
        model.format_version = header.version
        model.properties["weights file"] = weights_path.name
        model.properties["weights version"] = header.version
        model.properties["images seen"] = header.seen
        model.properties["weights size"] = placement.note
        if header.transposed:
            model.properties["connected weights"] = "stored transposed (inputs x outputs): major or minor > 1000"
    else:
        model.properties["weights file"] = (
            f"none beside the cfg ({path.with_suffix('.weights').name}): weights not stored"
        )
    if cfg.skipped:
        model.properties["skipped lines"] = cfg.skipped[:20]
    notes = [f"layer {layer.index}: {note}" for layer in network.layers for note in layer.notes]
    if notes:
        model.properties["notes"] = notes[:50]
    model.metadata = {k: v for k, v in network.net_options.items() if isinstance(v, (bool, int, float, str, list))}
    model.graphs = [build_graph(path, network, placement)]
    return model


def load_weights(path: Path) -> Model:
    """A .weights opened on its own: the cfg beside it when there is one, else the header and one flat array."""
    cfg = companion(path, ".cfg")
    note = f"no {path.with_suffix('.cfg').name} beside the weights: the arrays cannot be told apart, shown as one"
    if cfg is not None:
        try:
            model = load_cfg(cfg, path)
        except FormatError as exc:
            note = f"{cfg.name} beside it not read ({exc.reason}): the arrays cannot be told apart, shown as one"
        else:
            model.properties["opened from"] = f"{path.name}, the weights of {cfg.name}"
            return model
    header, size = read_header(path, PJREDDIE)
    model = Model(FORMAT)
    model.format_version = header.version
    count = (size - header.size) // 4
    data = Tensor(
        "weights",
        "float32",
        (count,),
        file_slice_loader(path, header.size, count * 4, "<f4", (count,), FORMAT),
        count * 4,
        f"{path.name} @ {header.size}",
    )
    model.tensors = {"weights": data}
    model.properties["weights version"] = header.version
    model.properties["images seen"] = header.seen
    model.properties["cfg"] = note
    if (size - header.size) % 4:
        model.properties["trailing bytes"] = (size - header.size) % 4
    return model


def load(path: Path) -> Model:
    if path.is_dir():
        raise FormatError(path, FORMAT, "a folder, not a .cfg or .weights file")
    if path.suffix.lower() == ".weights":
        return load_weights(path)
    return load_cfg(path)
