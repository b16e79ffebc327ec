"""An OpenVINO IR (``model.xml`` + ``model.bin``) -> netray Model.

``<net name version>`` holds ``<layers>``, ``<edges>``, and what describes the model: ``<meta_data>``
(Model Optimizer's version and command line), ``<rt_info>`` (IR v11: the runtime version, conversion
parameters, NNCF's compression settings, whatever the exporter stored), and in IR v5-v7
``<pre-process>`` and ``<statistics>``. The weights stay in the ``.bin`` until a tensor is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netray import FormatError, Graph, Model
from netray.ir import Metadata
from netray_openvino import elements, metadata
from netray_openvino.builder import Context, GraphBuilder
from netray_openvino.formats import FORMAT
from netray_openvino.layers import read_net
from netray_openvino.weights import WeightsFile, allowed_roots
from netray_openvino.xmlsafe import read_xml

elements.define_packed_types()


def ir_xml_for(path: Path) -> Path:
    """The XML a path stands for: itself, or for a ``.bin`` the ``.xml`` beside it."""
    if path.suffix.lower() == ".bin":
        xml = path.with_suffix(".xml")
        if not xml.is_file():
            raise FormatError(path, FORMAT, f"a weights file without its topology: {xml.name} is not beside it")
        if not any(xml.resolve().is_relative_to(root) for root in allowed_roots(path.parent)):
            raise FormatError(
                path, FORMAT, f"{xml.name} is a link to a file outside the weights' folder; it is not read"
            )
        return xml
    return path


def load(path: Path) -> Model:
    """Read the IR at ``path`` (the .xml, or its .bin): structure now, weights on request."""
    opened, path = path, ir_xml_for(path)
    root = read_xml(path)
    if root.tag != "net":
        raise FormatError(path, FORMAT, f"the root element is <{root.tag}>, not an IR's <net>")
    version = (root.get("version") or "").strip()
    ctx = Context(path, WeightsFile.beside(path))
    net = read_net(path, root, "the net")
    graph = Graph(root.get("name") or root.get("Name") or path.stem, "main")
    GraphBuilder(ctx, net, graph, "the net").build()
    model = Model(FORMAT, [graph])
    model.format_version = f"v{version}" if version else "(version not stated)"  # shown as "OpenVINO IR v11"
    model.metadata = file_metadata(root)
    model.producer, model.producer_version = metadata.producer(model.metadata)
    model.imports = imports(ctx.opsets)
    model.tensors.update(ctx.unused)
    model.properties = properties(root, version, ctx, model.metadata, graph)
    if opened != path:
        model.properties["opened from"] = f"{opened.name}, the weights of {path.name}"
    return model


def file_metadata(root: Any) -> Metadata:
    """``<meta_data>`` and ``<rt_info>`` flattened; an rt_info key that repeats a different meta_data value is prefixed."""
    out = metadata.flatten(root.find("meta_data"))
    for key, value in metadata.flatten(root.find("rt_info")).items():
        if key in out and out[key] != value:
            key = f"rt_info/{key}"
        out[key] = value
    pre = root.find("pre-process")
    if pre is not None:
        for key, value in pre.attrib.items():
            out[f"pre-process/{key}"] = elements.meta_value(value)
        for channel in pre.findall("channel"):
            for item in channel:
                if "value" in item.attrib:
                    out[f"pre-process/channel {channel.get('id', '?')}/{item.tag}"] = elements.meta_value(
                        item.get("value", "")
                    )
    return out


def imports(versions: set[str]) -> dict[str, str]:
    """The layers' ``version`` attributes: ``{"opset": "1, 8, 13"}``, and extensions' own names (``{"extension": ""}``)."""
    numbers = sorted(int(v[len("opset") :]) for v in versions if v.startswith("opset") and v[len("opset") :].isdigit())
    out = {"opset": ", ".join(str(n) for n in numbers)} if numbers else {}
    out.update({v: "" for v in sorted(versions) if not (v.startswith("opset") and v[len("opset") :].isdigit())})
    return out


def properties(root: Any, version: str, ctx: Context, meta: Metadata, graph: Graph) -> Metadata:
    """What the plugin derived: version, counts, the weights file's state, folding and compression."""
    props: Metadata = {}
    props["IR version"] = int(version) if version.isdigit() else version or "not stated"
    if version.isdigit() and int(version) > 11:
        props["note"] = f"IR v{version} is newer than this reader knows (v11); read as v11"
    if root.get("batch"):
        props["batch"] = elements.meta_value(root.get("batch", ""))
    props["layers"] = ctx.layers
    props["operations"] = sum(len(g.nodes) for g in graph.walk())
    framework = metadata.source_framework(meta)
    if framework:
        props["converted from"] = framework
    nncf = meta.get("nncf/version")
    if nncf is not None:
        props["compressed by"] = f"NNCF {nncf}"
    weights = ctx.weights
    if weights.present:
        props["weights file"] = f"{weights.path.name} ({weights.size:,} bytes)"
    else:
        props["weights file"] = f"absent ({weights.path.name}): weights not stored, only their types and shapes"
    props["constants"] = ctx.constants
    if ctx.outside_bin:
        names = ", ".join(repr(n) for n in ctx.outside_bin[:3])
        more = f" and {len(ctx.outside_bin) - 3} more" if len(ctx.outside_bin) > 3 else ""
        props["constants past the end of the weights file"] = f"{len(ctx.outside_bin)}: {names}{more}"
    if ctx.folded:
        counts = ", ".join(f"{n} {op}" for op, n in sorted(ctx.folded.items(), key=lambda item: -item[1]))
        props["layers shown as weights"] = f"{counts} over constants (they decode weights)"
    if ctx.compressed:
        props["compressed weights"] = ", ".join(f"{n} {dtype}" for dtype, n in sorted(ctx.compressed.items()))
    if ctx.inferred_shapes:
        props["blob shapes"] = f"{ctx.inferred_shapes} IR v7 weight shapes inferred from their layers' attributes"
    if ctx.unused:
        props["unused constants"] = len(ctx.unused)
    statistics = root.find("statistics")
    if statistics is not None:
        props["statistics"] = f"calibration ranges for {len(statistics.findall('layer'))} layers"
    return props
