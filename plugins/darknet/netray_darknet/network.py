"""A parsed cfg turned into Darknet's layers: wiring, output sizes and the weights each layer loads.

This follows ``parse_network_cfg`` of Darknet's ``src/parser.c``: every layer reads
the previous layer's output (``params.w/h/c``, ``params.inputs``) unless it names
others (``route``, ``shortcut``, ``sam``, ``scale_channels``); sizes are computed by
the same integer formulas as the ``make_*_layer`` functions; and the weights each
layer loads, in the order ``load_weights_upto`` reads them, are listed per layer.

Two forks read cfgs slightly differently (pjreddie/darknet and AlexeyAB/darknet):
:func:`detect_dialect` picks one from the sections and keys the cfg uses. Where a
cfg uses neither fork's own features, both read it alike except for a few layers
(``batchnorm``'s weights, ``gru``'s weight order, ``rnn``'s hidden size); pjreddie's
reading is used then, and the reader checks the ``.weights`` size for ``batchnorm``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from netray import FormatError
from netray_darknet.cfg import Cfg, Section
from netray_darknet.formats import FORMAT
from netray_darknet.operators import AB_DEFAULTS, AB_KEYS, PJ_KEYS, SECTIONS, canonical

PJREDDIE = "pjreddie"
ALEXEYAB = "AlexeyAB"
INT_PREFIX = re.compile(r"^[+-]?\d+")
FLOAT_PREFIX = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan)", re.IGNORECASE)
INT_TEXT = re.compile(r"^[+-]?\d+$")
FLOAT_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
HEADS = frozenset({"yolo", "Gaussian_yolo", "region", "detection", "iseg"})
MAX_DIM = 1 << 31  # Darknet's sizes are C ints


@dataclass
class WeightSpec:
    """One array a layer loads from .weights: its name, element count and shape (None when unknown)."""

    name: str
    count: int | None
    shape: tuple[int, ...] | None
    note: str = ""


@dataclass
class Layer:
    index: int
    section: Section
    kind: str  # canonical section name
    attrs: list[tuple[str, object, bool]] = field(default_factory=list)  # (key, value, filled by default)
    inputs: list[int] = field(default_factory=list)  # layer indices; -1 is the network input
    c: int | None = 0
    h: int | None = 0
    w: int | None = 0
    outputs: int | None = 0
    flat: bool = False  # shown as (batch, outputs) rather than (batch, c, h, w)
    weights: list[WeightSpec] = field(default_factory=list)
    head: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def image(self) -> bool:
        return bool(self.c and self.h and self.w)


@dataclass
class Network:
    dialect: str
    dialect_reason: str
    batch: int
    c: int
    h: int
    w: int
    inputs: int
    layers: list[Layer]
    net_options: dict[str, object]


def atoi(text: str) -> int:
    """C's atoi: the leading integer, 0 when there is none."""
    m = INT_PREFIX.match(text)
    return int(m.group()) if m else 0


def atof(text: str) -> float:
    m = FLOAT_PREFIX.match(text)
    try:
        return float(m.group()) if m else 0.0
    except ValueError:
        return 0.0


def cdiv(a: int, b: int) -> int | None:
    """C's integer division (truncating toward zero); None for a division by zero."""
    if b == 0:
        return None
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def typed(text: str) -> object:
    """A value as its natural type: int, float, a list of them, or the text."""
    value = text.split("#", 1)[0] if "#" in text else text
    if INT_TEXT.match(value):
        return int(value)
    if FLOAT_TEXT.match(value):
        return float(value)
    if "," in value:
        parts = [p for p in value.split(",") if p != ""]
        if parts and all(INT_TEXT.match(p) for p in parts):
            return [int(p) for p in parts]
        if parts and all(INT_TEXT.match(p) or FLOAT_TEXT.match(p) for p in parts):
            return [float(p) for p in parts]
    return text


def typed_as(kind: str, text: str) -> object:
    """A value read as the key's kind, or as its natural type when it does not fit that kind."""
    value = typed(text)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "float" and isinstance(value, int):
        return float(value)
    if kind == "ints" and isinstance(value, int):
        return [value]
    if kind == "floats" and isinstance(value, (int, float)):
        return [float(value)]
    if kind == "floats" and isinstance(value, list):
        return [float(v) for v in value]
    return value


def detect_dialect(cfg: Cfg) -> tuple[str, str]:
    """Which fork the cfg is written for, and why: AlexeyAB's when it uses that fork's own sections or keys."""
    for section in cfg.sections:
        kind = canonical(section.type)
        spec = SECTIONS.get(kind)
        if spec is not None and spec.dialect == ALEXEYAB:
            return ALEXEYAB, f"uses [{section.type}] (line {section.line}), which only AlexeyAB/darknet reads"
        own = AB_KEYS.get(kind, frozenset()) & section.options.keys()
        if own:
            return (
                ALEXEYAB,
                f"[{section.type}] at line {section.line} sets {sorted(own)[0]}, which only AlexeyAB/darknet reads",
            )
        if section.options.get("activation") in ("mish", "swish", "hard_mish", "relu6", "gelu", "silu"):
            return (
                ALEXEYAB,
                f"line {section.option_lines['activation']} uses activation={section.options['activation']}, which only AlexeyAB/darknet has",
            )
    for section in cfg.sections:
        kind = canonical(section.type)
        spec = SECTIONS.get(kind)
        if spec is not None and spec.dialect == PJREDDIE:
            return PJREDDIE, f"uses [{section.type}] (line {section.line}), which only pjreddie/darknet reads"
        if PJ_KEYS.get(kind, frozenset()) & section.options.keys():
            return PJREDDIE, f"[{section.type}] at line {section.line} uses keys only pjreddie/darknet reads"
    return PJREDDIE, "uses only what both forks read; read as pjreddie/darknet, the original"


class NetworkBuilder:
    """Walks the sections as parse_network_cfg does, keeping the previous layer's output as ``params``."""

    def __init__(self, path: Path, cfg: Cfg, dialect: str) -> None:
        self.path = path
        self.cfg = cfg
        self.ab = dialect == ALEXEYAB
        self.layers: list[Layer] = []

    def fail(self, section: Section, reason: str) -> FormatError:
        return FormatError(self.path, FORMAT, f"line {section.line} [{section.type}]: {reason}")

    # -- options, as option_find_int / option_find_float read them -------------------------------
    @staticmethod
    def opt_int(s: Section, key: str, default: int) -> int:
        text = s.options.get(key)
        return default if text is None else atoi(text)

    @staticmethod
    def opt_float(s: Section, key: str, default: float) -> float:
        text = s.options.get(key)
        return default if text is None else atof(text)

    @staticmethod
    def opt_str(s: Section, key: str, default: str) -> str:
        text = s.options.get(key)
        return default if text is None else text

    def indices(self, layer: Layer, key: str) -> list[int]:
        """``layers=-1,61`` -> absolute layer indices, each checked to name an earlier layer."""
        text = layer.section.options.get(key)
        if text is None or text.split("#", 1)[0] == "":
            raise self.fail(layer.section, f"needs '{key}=' (the layers it reads)")
        parts = text.split("#", 1)[0].split(",")
        if len(parts) > 4096:
            raise self.fail(layer.section, f"'{key}' lists {len(parts)} layers")
        result = []
        for part in parts:
            if part == "":
                continue
            index = atoi(part)
            if index < 0:
                index = layer.index + index
            if not 0 <= index < layer.index:
                raise self.fail(
                    layer.section,
                    f"'{key}={text}' names layer {index}, but only layers 0..{layer.index - 1} come before it",
                )
            result.append(index)
        if not result:
            raise self.fail(layer.section, f"'{key}={text}' names no layer")
        return result

    # -- the walk ----------------------------------------------------------------------------------
    def build(self, net: Network) -> list[Layer]:
        c: int | None = net.c
        h: int | None = net.h
        w: int | None = net.w
        inputs: int | None = net.inputs
        flat = not (net.c and net.h and net.w)
        for index, section in enumerate(self.cfg.sections[1:]):
            kind = canonical(section.type)
            layer = Layer(index, section, kind, inputs=[index - 1])
            self.fill_attributes(layer)
            self.shape_layer(layer, net.batch, c, h, w, inputs, flat)
            for dim in (layer.c, layer.h, layer.w, layer.outputs):
                if dim is not None and not 0 <= dim < MAX_DIM:
                    layer.notes.append(f"computed size {dim} is out of range: shapes from here on are unknown")
                    layer.c = layer.h = layer.w = layer.outputs = None
                    break
            self.layers.append(layer)
            c, h, w, inputs, flat = layer.c, layer.h, layer.w, layer.outputs, layer.flat
        return self.layers

    def fill_attributes(self, layer: Layer) -> None:
        """The section's keys typed by the spec, then the spec's keys it leaves out, filled with Darknet's defaults."""
        spec = SECTIONS.get(layer.kind)
        keys = {k: (kind, default) for k, kind, default in (spec.keys if spec else ())}
        given = layer.section.options
        ordered = [k for k in keys if k in given] + [k for k in given if k not in keys]
        for key in ordered:
            kind = keys.get(key, ("", None))[0]
            layer.attrs.append((key, typed_as(kind, given[key]) if kind else typed(given[key]), False))
        for key, (_, default) in keys.items():
            if key in given:
                continue
            if self.ab and (layer.kind, key) in AB_DEFAULTS:
                default = AB_DEFAULTS[(layer.kind, key)]
            if default is not None:
                layer.attrs.append((key, default, True))
        if layer.kind in ("maxpool", "local_avgpool"):  # defaults that depend on other keys
            stride = self.opt_int(layer.section, "stride", 1)
            size = self.opt_int(layer.section, "size", stride)
            if "size" not in given:
                layer.attrs.append(("size", size, True))
            if "padding" not in given:
                layer.attrs.append(("padding", size - 1, True))
        if layer.kind == "rnn" and not self.ab and "hidden" not in given:
            layer.attrs.append(("hidden", self.opt_int(layer.section, "output", 1), True))
        # Keep the spec's order (most telling first) with filled defaults in their place.
        rank = {k: i for i, k in enumerate(keys)}
        layer.attrs.sort(key=lambda a: rank.get(a[0], len(rank)))

    def shape_layer(
        self, layer: Layer, batch: int, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        kind = layer.kind
        handler = getattr(self, f"shape_{kind}", None)
        if handler is not None:
            handler(layer, c, h, w, inputs, flat)
            return
        if kind in ("batchnorm", "normalization", "l2norm", "logistic", "activation", "dropout", "empty", "cost"):
            layer.c, layer.h, layer.w, layer.outputs, layer.flat = c, h, w, inputs, flat
            if kind == "batchnorm":
                self.batchnorm_weights(layer, c)
            if kind == "cost":
                layer.flat = True
            return
        layer.c = layer.h = layer.w = layer.outputs = None
        layer.notes.append(f"Darknet does not know [{s.type}] ('Type not recognized'): its output size is unknown")

    # -- weights helpers ---------------------------------------------------------------------------
    def conv_weights(
        self,
        prefix: str,
        n: int,
        c: int | None,
        groups: int,
        size: int,
        bn: bool,
        load_scales: bool = True,
        transposed: bool = False,
    ) -> list[WeightSpec]:
        """biases[n], then scales, rolling_mean, rolling_variance[n] with batch_normalize, then weights."""
        specs = [WeightSpec(prefix + "biases", n, (n,))]
        if bn and load_scales:
            specs += [WeightSpec(prefix + name, n, (n,)) for name in ("scales", "rolling_mean", "rolling_variance")]
        if c is None:
            specs.append(WeightSpec(prefix + "weights", None, None))
        else:
            per = c // max(groups, 1)
            shape = (c, n, size, size) if transposed else (n, per, size, size)
            count = c * n * size * size if transposed else n * per * size * size
            specs.append(WeightSpec(prefix + "weights", count, shape))
        return specs

    @staticmethod
    def connected_weights(
        prefix: str, inputs: int | None, outputs: int, bn: bool, load_scales: bool = True
    ) -> list[WeightSpec]:
        """biases[outputs], weights[outputs x inputs], then scales, rolling_mean, rolling_variance with batch_normalize."""
        specs = [WeightSpec(prefix + "biases", outputs, (outputs,))]
        if inputs is None:
            specs.append(WeightSpec(prefix + "weights", None, None))
        else:
            specs.append(WeightSpec(prefix + "weights", outputs * inputs, (outputs, inputs)))
        if bn and load_scales:
            specs += [
                WeightSpec(prefix + name, outputs, (outputs,))
                for name in ("scales", "rolling_mean", "rolling_variance")
            ]
        return specs

    def batchnorm_weights(self, layer: Layer, c: int | None) -> None:
        names = (
            ("biases", "scales", "rolling_mean", "rolling_variance")
            if self.ab
            else ("scales", "rolling_mean", "rolling_variance")
        )
        layer.weights = [WeightSpec(name, c, (c,) if c is not None else None) for name in names]

    def skip_loading(self, layer: Layer) -> bool:
        if self.opt_int(layer.section, "dontload", 0):
            layer.notes.append("dontload=1: Darknet reads no weights for this layer")
            return True
        return False

    def need_image(self, layer: Layer, c: int | None, h: int | None, w: int | None) -> bool:
        if c is None or h is None or w is None:
            layer.c = layer.h = layer.w = layer.outputs = None
            return False
        if not (c and h and w):
            layer.notes.append(
                "the layer before does not output an image ('must output image' in Darknet): its size is unknown"
            )
            layer.c = layer.h = layer.w = layer.outputs = None
            return False
        return True

    def set_image(self, layer: Layer, c: int | None, h: int | None, w: int | None) -> None:
        if c is None or h is None or w is None or c <= 0 or h <= 0 or w <= 0:
            if c is not None and h is not None and w is not None:
                layer.notes.append(f"computed output {c}x{h}x{w} is empty: the window is larger than the input")
            layer.c = layer.h = layer.w = layer.outputs = None
            return
        layer.c, layer.h, layer.w, layer.outputs = c, h, w, c * h * w

    # -- layers that compute their size --------------------------------------------------------------
    def shape_convolutional(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        n = self.opt_int(s, "filters", 1)
        size = self.opt_int(s, "size", 1)
        stride = self.opt_int(s, "stride", 1)
        stride_x = stride_y = stride
        if self.ab:
            sx, sy = self.opt_int(s, "stride_x", -1), self.opt_int(s, "stride_y", -1)
            stride_x = sx if sx >= 1 else stride
            stride_y = sy if sy >= 1 else stride
        padding = self.opt_int(s, "padding", 0)
        if self.opt_int(s, "pad", 0):
            padding = size // 2
        groups = self.opt_int(s, "groups", 1)
        if self.ab and self.opt_int(s, "xnor", 0):
            groups = 1
        groups = max(groups, 1)
        bn = bool(self.opt_int(s, "batch_normalize", 0) or (self.ab and self.opt_int(s, "cbn", 0)))
        shared = self.ab and "share_index" in s.options
        if not self.skip_loading(layer):
            if shared:
                layer.notes.append("share_index: the weights are those of another layer; none are read here")
            else:
                load_n = self.opt_int(s, "numload", 0) if not self.ab else 0
                layer.weights = self.conv_weights(
                    "", load_n or n, c, groups, size, bn, not self.opt_int(s, "dontloadscales", 0)
                )
                if c is not None and c % groups:
                    layer.notes.append(f"{c} input channels do not divide into groups={groups}")
        if not self.need_image(layer, c, h, w):
            return
        assert c is not None and h is not None and w is not None
        antialiasing = self.opt_int(s, "antialiasing", 0) if self.ab else 0
        if antialiasing:
            first_x = first_y = 1
        else:
            first_x, first_y = stride_x, stride_y
        out_h = cdiv(h + 2 * padding - size, first_y)
        out_w = cdiv(w + 2 * padding - size, first_x)
        if out_h is None or out_w is None:
            layer.notes.append("stride 0: Darknet divides by zero here")
            layer.c = layer.h = layer.w = layer.outputs = None
            return
        out_h, out_w = out_h + 1, out_w + 1
        if antialiasing:  # a fixed blur convolution with the layer's stride follows
            blur, blur_pad = (2, 0) if antialiasing == 2 else (3, 1)
            out_h = (cdiv(out_h + 2 * blur_pad - blur, stride_y) or 0) + 1
            out_w = (cdiv(out_w + 2 * blur_pad - blur, stride_x) or 0) + 1
        self.set_image(layer, n, out_h, out_w)

    def shape_deconvolutional(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        n = self.opt_int(s, "filters", 1)
        size = self.opt_int(s, "size", 1)
        stride = self.opt_int(s, "stride", 1)
        padding = self.opt_int(s, "padding", 0)
        if self.opt_int(s, "pad", 0):
            padding = size // 2
        bn = bool(self.opt_int(s, "batch_normalize", 0))
        if not self.skip_loading(layer):
            layer.weights = self.conv_weights("", n, c, 1, size, bn, transposed=True)
        if not self.need_image(layer, c, h, w):
            return
        assert c is not None and h is not None and w is not None
        self.set_image(layer, n, (h - 1) * stride + size - 2 * padding, (w - 1) * stride + size - 2 * padding)

    def shape_local(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        n = self.opt_int(s, "filters", 1)
        size = self.opt_int(s, "size", 1)
        stride = self.opt_int(s, "stride", 1)
        pad = self.opt_int(s, "pad", 0)
        if not self.need_image(layer, c, h, w):
            if not self.skip_loading(layer):
                layer.weights = [WeightSpec("biases", None, None), WeightSpec("weights", None, None)]
            return
        assert c is not None and h is not None and w is not None
        out_h = cdiv(h - (1 if pad else size), stride)
        out_w = cdiv(w - (1 if pad else size), stride)
        if out_h is None or out_w is None:
            layer.notes.append("stride 0: Darknet divides by zero here")
            layer.c = layer.h = layer.w = layer.outputs = None
            return
        self.set_image(layer, n, out_h + 1, out_w + 1)
        if not self.skip_loading(layer) and layer.h and layer.w:
            locations = layer.h * layer.w
            layer.weights = [
                WeightSpec("biases", n * locations, (n, layer.h, layer.w)),
                WeightSpec("weights", locations * n * c * size * size, (locations, n, c, size, size)),
            ]

    def shape_connected(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        out = self.opt_int(s, "output", 1)
        bn = bool(self.opt_int(s, "batch_normalize", 0))
        if not self.skip_loading(layer):
            layer.weights = self.connected_weights("", inputs, out, bn, not self.opt_int(s, "dontloadscales", 0))
        layer.c, layer.h, layer.w, layer.outputs, layer.flat = out, 1, 1, out, True

    def recurrent(
        self, layer: Layer, inputs: int | None, parts: list[tuple[str, str, str]], hidden: int, out: int
    ) -> None:
        """Connected sub-layers ``(name, from, to)`` with 'in', 'hidden' and 'out' sizes, in load order."""
        s = layer.section
        bn = bool(self.opt_int(s, "batch_normalize", 0))
        sizes = {"in": inputs, "hidden": hidden, "out": out}
        if not self.skip_loading(layer):
            for name, src, dst in parts:
                dst_size = sizes[dst]
                assert dst_size is not None
                layer.weights += self.connected_weights(name + ".", sizes[src], dst_size, bn)
        layer.c, layer.h, layer.w, layer.outputs, layer.flat = out, 1, 1, out, True

    def shape_rnn(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        out = self.opt_int(layer.section, "output", 1)
        hidden = self.opt_int(layer.section, "hidden", 1) if self.ab else out
        self.recurrent(
            layer,
            inputs,
            [("input_layer", "in", "hidden"), ("self_layer", "hidden", "hidden"), ("output_layer", "hidden", "out")],
            hidden,
            out,
        )

    def shape_gru(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        out = self.opt_int(layer.section, "output", 1)
        if self.ab:
            parts = [(f"input_{g}_layer", "in", "out") for g in "zrh"] + [
                (f"state_{g}_layer", "out", "out") for g in "zrh"
            ]
        else:
            parts = [(f"w{g}", "out", "out") for g in "zrh"] + [(f"u{g}", "in", "out") for g in "zrh"]
        self.recurrent(layer, inputs, parts, out, out)

    def shape_lstm(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        out = self.opt_int(layer.section, "output", 1)
        gates = "figo" if self.ab else "ifog"
        parts = [(f"w{g}", "out", "out") for g in gates] + [(f"u{g}", "in", "out") for g in gates]
        self.recurrent(layer, inputs, parts, out, out)

    def shape_crnn(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        if self.ab:
            out_f, hidden = self.opt_int(s, "output", 1), self.opt_int(s, "hidden", 1)
            size, stride, groups = (
                self.opt_int(s, "size", 3),
                self.opt_int(s, "stride", 1),
                max(self.opt_int(s, "groups", 1), 1),
            )
            padding = self.opt_int(s, "padding", 0)
            if self.opt_int(s, "pad", 0):
                padding = size // 2
        else:
            out_f, hidden = self.opt_int(s, "output_filters", 1), self.opt_int(s, "hidden_filters", 1)
            size, stride, groups, padding = 3, 1, 1, 1
        bn = bool(self.opt_int(s, "batch_normalize", 0))
        if not self.skip_loading(layer):
            for name, cin, n in (
                ("input_layer", c, hidden),
                ("self_layer", hidden, hidden),
                ("output_layer", hidden, out_f),
            ):
                layer.weights += self.conv_weights(name + ".", n, cin, groups, size, bn)
        if not self.need_image(layer, c, h, w):
            return
        assert h is not None and w is not None
        out_h, out_w = cdiv(h + 2 * padding - size, stride), cdiv(w + 2 * padding - size, stride)
        self.set_image(layer, out_f, None if out_h is None else out_h + 1, None if out_w is None else out_w + 1)

    def shape_conv_lstm(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        out_f = self.opt_int(s, "output", 1)
        size, stride, groups = (
            self.opt_int(s, "size", 3),
            self.opt_int(s, "stride", 1),
            max(self.opt_int(s, "groups", 1), 1),
        )
        padding = self.opt_int(s, "padding", 0)
        if self.opt_int(s, "pad", 0):
            padding = size // 2
        bn = bool(self.opt_int(s, "batch_normalize", 0))
        peephole, bottleneck = self.opt_int(s, "peephole", 0), self.opt_int(s, "bottleneck", 0)
        if not self.skip_loading(layer):
            parts: list[tuple[str, int | None]] = []
            if peephole:
                parts += [("vf", out_f), ("vi", out_f), ("vo", out_f)]
            parts.append(("wf", out_f * 2 if bottleneck else out_f))
            if not bottleneck:
                parts += [("wi", out_f), ("wg", out_f), ("wo", out_f)]
            parts += [("uf", c), ("ui", c), ("ug", c), ("uo", c)]
            for name, cin in parts:
                layer.weights += self.conv_weights(name + ".", out_f, cin, groups, size, bn)
        if not self.need_image(layer, c, h, w):
            return
        assert h is not None and w is not None
        out_h, out_w = cdiv(h + 2 * padding - size, stride), cdiv(w + 2 * padding - size, stride)
        self.set_image(layer, out_f, None if out_h is None else out_h + 1, None if out_w is None else out_w + 1)

    def shape_maxpool(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        stride = self.opt_int(s, "stride", 1)
        stride_x = self.opt_int(s, "stride_x", stride) if self.ab else stride
        stride_y = self.opt_int(s, "stride_y", stride) if self.ab else stride
        size = self.opt_int(s, "size", stride)
        padding = self.opt_int(s, "padding", size - 1)
        if not self.need_image(layer, c, h, w):
            return
        assert c is not None and h is not None and w is not None
        if self.ab and layer.kind == "maxpool" and self.opt_int(s, "maxpool_depth", 0):
            self.set_image(layer, self.opt_int(s, "out_channels", 1), h, w)
            return
        antialiasing = self.opt_int(s, "antialiasing", 0) if self.ab and layer.kind == "maxpool" else 0
        first_x, first_y = (1, 1) if antialiasing else (stride_x, stride_y)
        out_h, out_w = cdiv(h + padding - size, first_y), cdiv(w + padding - size, first_x)
        if out_h is None or out_w is None:
            layer.notes.append("stride 0: Darknet divides by zero here")
            layer.c = layer.h = layer.w = layer.outputs = None
            return
        out_h, out_w = out_h + 1, out_w + 1
        if antialiasing:
            blur, blur_pad = (2, 0) if antialiasing == 2 else (3, 1)
            out_h = (cdiv(out_h + 2 * blur_pad - blur, stride_y) or 0) + 1
            out_w = (cdiv(out_w + 2 * blur_pad - blur, stride_x) or 0) + 1
        self.set_image(layer, c, out_h, out_w)

    shape_local_avgpool = shape_maxpool

    def shape_avgpool(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        if self.need_image(layer, c, h, w):
            self.set_image(layer, c, 1, 1)

    def shape_softmax(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        # make_softmax_layer sets no out_w/out_h/out_c: what follows sees a flat vector.
        layer.c = layer.h = layer.w = 0
        layer.outputs, layer.flat = inputs, True

    def shape_detection(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        layer.c = layer.h = layer.w = 0
        layer.outputs, layer.flat, layer.head = inputs, True, True

    def shape_route(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        sources = [self.layers[i] for i in self.indices(layer, "layers")]
        layer.inputs = [src.index for src in sources]
        groups = max(self.opt_int(layer.section, "groups", 1), 1) if self.ab else 1
        if self.ab and groups > 1:
            group_id = self.opt_int(layer.section, "group_id", 0)
            if not 0 <= group_id < groups:
                layer.notes.append(f"group_id={group_id} is outside 0..{groups - 1}")
        if any(src.outputs is None or src.c is None for src in sources):
            layer.c = layer.h = layer.w = layer.outputs = None
            return
        first = sources[0]
        out_c: int | None = first.c
        out_h, out_w = first.h, first.w
        for src in sources[1:]:
            if src.w == first.w and src.h == first.h and out_c:
                out_c += src.c or 0
            else:
                layer.notes.append(
                    f"layer {src.index} is {src.w}x{src.h}, layer {first.index} is {first.w}x{first.h}: Darknet concatenates them flat"
                )
                out_c = out_h = out_w = 0
        total = sum(src.outputs or 0 for src in sources) // groups
        layer.c, layer.h, layer.w = (out_c // groups if out_c else 0), out_h, out_w
        layer.outputs = total
        layer.flat = not layer.image

    def shape_shortcut(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        froms = self.indices(layer, "from") if self.ab else self.indices(layer, "from")[:1]
        layer.inputs = [layer.index - 1, *froms]
        layer.c, layer.h, layer.w, layer.outputs, layer.flat = c, h, w, inputs, flat
        for i in froms:
            src = self.layers[i]
            if (src.w, src.h, src.c) != (w, h, c) and None not in (src.w, src.h, src.c, w, h, c):
                layer.notes.append(
                    f"adds layer {i} ({src.c}x{src.h}x{src.w}) to {c}x{h}x{w}: Darknet adds the overlapping part"
                )
        if self.ab:
            kind = self.opt_str(s, "weights_type", "none")
            n = len(froms)
            if kind in ("per_feature", "per_layer"):
                layer.weights = [WeightSpec("weights", n + 1, (n + 1,))]
            elif kind == "per_channel":
                layer.weights = [
                    WeightSpec("weights", None if c is None else (n + 1) * c, None if c is None else (n + 1, c))
                ]

    def from_layer(self, layer: Layer) -> Layer:
        return self.layers[self.indices(layer, "from")[0]]

    def shape_sam(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        src = self.from_layer(layer)
        layer.inputs = [layer.index - 1, src.index]
        layer.c, layer.h, layer.w, layer.outputs, layer.flat = src.c, src.h, src.w, src.outputs, src.flat

    shape_scale_channels = shape_sam

    def shape_upsample(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        stride = self.opt_int(layer.section, "stride", 2)
        if not self.need_image(layer, c, h, w):
            return
        assert c is not None and h is not None and w is not None
        if stride < 0:
            self.set_image(layer, c, cdiv(h, -stride), cdiv(w, -stride))
        else:
            self.set_image(layer, c, h * stride, w * stride)

    def shape_reorg(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        stride = self.opt_int(s, "stride", 1)
        reverse = self.opt_int(s, "reverse", 0)
        if not self.need_image(layer, c, h, w):
            return
        assert c is not None and h is not None and w is not None
        if stride == 0:
            layer.notes.append("stride 0: Darknet divides by zero here")
            layer.c = layer.h = layer.w = layer.outputs = None
            return
        if reverse:
            self.set_image(layer, cdiv(c, stride * stride), h * stride, w * stride)
        else:
            self.set_image(layer, c * stride * stride, cdiv(h, stride), cdiv(w, stride))
        extra = self.opt_int(s, "extra", 0) if not self.ab and layer.kind == "reorg" else 0
        if extra:
            layer.c = layer.h = layer.w = 0
            layer.outputs, layer.flat = c * h * w + extra, True

    shape_reorg3d = shape_reorg

    def shape_crop(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        if self.need_image(layer, c, h, w):
            self.set_image(
                layer, c, self.opt_int(layer.section, "crop_height", 1), self.opt_int(layer.section, "crop_width", 1)
            )

    def head(
        self,
        layer: Layer,
        c: int | None,
        h: int | None,
        w: int | None,
        inputs: int | None,
        flat: bool,
        per_anchor: int,
        anchors: int,
    ) -> None:
        layer.head = True
        layer.c, layer.h, layer.w, layer.outputs, layer.flat = c, h, w, inputs, flat
        if h and w and inputs is not None and h * w * anchors * per_anchor != inputs:
            layer.notes.append(
                f"expects {anchors} anchors x {per_anchor} values = {anchors * per_anchor} channels at {h}x{w}, "
                f"but the layer before gives {inputs} values ({c} channels): filters= does not match classes="
            )

    def shape_yolo(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        classes, total = self.opt_int(s, "classes", 20), self.opt_int(s, "num", 1)
        mask = s.options.get("mask")
        anchors = len([p for p in mask.split("#", 1)[0].split(",")]) if mask else total
        extra = 1 if layer.kind == "yolo" else 5  # Gaussian_yolo predicts 4 variances too
        self.head(layer, c, h, w, inputs, flat, classes + 4 + extra, anchors)

    shape_Gaussian_yolo = shape_yolo

    def shape_region(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        s = layer.section
        coords, classes, num = self.opt_int(s, "coords", 4), self.opt_int(s, "classes", 20), self.opt_int(s, "num", 1)
        self.head(layer, c, h, w, inputs, flat, classes + coords + 1, num)

    def shape_iseg(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        layer.head = True
        layer.c, layer.h, layer.w, layer.outputs, layer.flat = c, h, w, inputs, flat

    def shape_implicit(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        filters, atoms = self.opt_int(layer.section, "filters", 128), self.opt_int(layer.section, "atoms", 1)
        layer.inputs = []  # a learned constant: it reads no layer
        layer.weights = [WeightSpec("weights", filters * atoms, (filters, atoms, 1))]
        self.set_image(layer, filters, atoms, 1)

    def shape_contrastive(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        layer.head = True
        layer.c, layer.h, layer.w, layer.outputs, layer.flat = c, h, w, inputs, flat

    def shape_history(
        self, layer: Layer, c: int | None, h: int | None, w: int | None, inputs: int | None, flat: bool
    ) -> None:
        size = self.opt_int(layer.section, "history_size", 4)
        if self.need_image(layer, c, h, w):
            assert c is not None
            self.set_image(layer, c * size, h, w)


def build_network(path: Path, cfg: Cfg, dialect: str | None = None) -> Network:
    """The [net] options and every layer, as Darknet builds them (``dialect`` overrides the detected fork)."""
    detected, reason = detect_dialect(cfg)
    dialect = dialect or detected
    net = cfg.sections[0]
    opt = NetworkBuilder.opt_int
    batch, subdivisions, time_steps = opt(net, "batch", 1), opt(net, "subdivisions", 1), opt(net, "time_steps", 1)
    mini_batch = cdiv(batch, subdivisions)
    if mini_batch is None:
        raise FormatError(path, FORMAT, f"line {net.line} [net]: subdivisions=0 (Darknet divides the batch by it)")
    batch = mini_batch * time_steps
    if dialect == ALEXEYAB:
        batch = max(batch, 1, time_steps)
    h, w, c = opt(net, "height", 0), opt(net, "width", 0), opt(net, "channels", 0)
    inputs = opt(net, "inputs", h * w * c)
    if not inputs and not (h and w and c):
        raise FormatError(path, FORMAT, f"line {net.line} [net]: no input size (width, height and channels, or inputs)")
    for name, value in (("batch", batch), ("height", h), ("width", w), ("channels", c), ("inputs", inputs)):
        if not 0 <= value < MAX_DIM:
            raise FormatError(path, FORMAT, f"line {net.line} [net]: {name}={value} is out of range")
    network = Network(
        dialect, reason, max(batch, 0), c, h, w, inputs, [], {k: typed(v) for k, v in net.options.items()}
    )
    network.layers = NetworkBuilder(path, cfg, dialect).build(network)
    return network
