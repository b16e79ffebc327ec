"""Reads .toynet: text lines (inputs, weights, operations), then `data` and the weights' raw bytes."""

from itertools import takewhile
from pathlib import Path

import numpy as np

import netray

NETRAY_CONTRACT = "1.0"  # the plugin contract this was written for
FORMAT = "ToyNet"
DOCS = {"Conv": ("layer", "2-D convolution"), "Relu": ("activation", "max(x, 0)"), "MaxPool": ("pool", "max over windows")}


@netray.hookimpl
def netray_formats() -> list[netray.FormatInfo]:  # declared as data; the first line proves the format
    return [netray.FormatInfo(FORMAT, (".toynet",), "a made-up text format", magic=(b"toynet 1\n",))]


@netray.hookimpl
def netray_load(path: Path, format: str) -> netray.Model | None:  # format: the name that matched
    graph = netray.Graph("main", "main")
    with open(path, "rb") as f:  # read the text lines only; weights stay on disk
        lines = [b.decode(errors="replace").strip() for b in takewhile(lambda b: b != b"data\n", iter(f.readline, b""))]
        offset = f.tell()  # the weights' bytes start here
    for number, line in ((n, x) for n, x in enumerate(lines, start=1) if n > 1 and x and not x.startswith("#")):
        try:
            kind, name, *rest = line.replace("(", " ").replace(")", " ").replace(",", " ").split()
            if kind == "input":
                graph.inputs.append(graph.value(name, netray.TensorType(rest[0], tuple(int(d) for d in rest[1:]))))
            elif kind == "weight":  # a lazy loader: the bytes are read only on request
                dtype, shape = rest[0], tuple(int(d) for d in rest[1:])
                size = int(np.prod(shape)) * np.dtype(dtype).itemsize
                loader = netray.file_slice_loader(path, offset, size, dtype, shape, FORMAT)
                graph.value(name, netray.TensorType(dtype, shape)).initializer = netray.Tensor(name, dtype, shape, loader, size)
                offset += size
            elif kind == "output":
                graph.outputs.append(graph.value(name))
            elif name == "=":  # "conv1 = Conv(image, conv1.w) k=3": output, op, inputs, attributes
                op, args = rest[0], [w for w in rest[1:] if "=" not in w]
                attrs = [netray.Attribute(k, netray.AttrKind.INT, int(v)) for k, v in (w.split("=") for w in rest[1:] if "=" in w)]
                inputs = [netray.Port(f"in{i}", [graph.value(a)]) for i, a in enumerate(args)]
                outputs = [netray.Port("out", [graph.value(kind)])]
                graph.add_node(netray.Node(op, kind, inputs=inputs, outputs=outputs, attributes=attrs, category=DOCS.get(op, ("other",))[0]))
            else:
                raise ValueError("expected input, weight, output or NAME = OP(...)")
        except (ValueError, TypeError, IndexError) as exc:  # one readable line, never a traceback
            raise netray.FormatError(path, FORMAT, f"line {number}: cannot read {line!r} ({exc})") from None
    return netray.Model(FORMAT, [graph.link()])


@netray.hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> netray.OpInfo | None:
    if format != FORMAT or op not in DOCS:
        return None
    return netray.OpInfo(category=netray.Category(DOCS[op][0]), summary=DOCS[op][1])
