"""Constants shown as weights: a Const layer, or a decompression chain over one, folded into its consumers.

OpenVINO stores weights as ``Const`` layers wired into their consumers. netray shows constants as
weights inside the consumer's box, so a Const is not a box of its own. The runtime's weight
compression also wraps constants in small subgraphs that only decode them:

* ``save_model`` (compress_to_fp16): ``Const f16 -> Convert(f32) -> MatMul``;
* NNCF weight compression: ``Const u4 [O, G, 32] -> Convert(f16) -> Subtract(zero point)
  -> Multiply(scale) -> Reshape [O, I] -> Convert(f32) -> MatMul``, the zero point and scale
  being constants of their own (``u4 -> Convert``, ``f16``).

Such a chain reads as one weight: the consumer shows the stored tensor (u4, with its
:class:`netray.Quantization` naming the scale and zero point) and the scale and zero point as
weights of their own (ports ``B.scale``, ``B.zero_point``). A Subtract or Multiply is folded only
when the chain starts from a low-precision integer (or fp8/nf4) constant, so arithmetic between
ordinary float constants stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netray import Quantization, Tensor, TensorType, Value
from netray.ir import Shape, shape_text

# Ops folded into a constant flowing through them, and what each does to it.
CONVERTS = frozenset({"Convert"})
DEQUANTIZE = {"Subtract": "zero_point", "Multiply": "scale"}
RESHAPES = frozenset({"Reshape", "Transpose", "Squeeze", "Unsqueeze"})
# Storage types whose values stand for scaled real numbers when a Subtract/Multiply decodes them.
QUANTIZED_STORAGE = frozenset(
    {
        "int8",
        "uint8",
        "int4",
        "uint4",
        "uint2",
        "uint1",
        "uint3",
        "uint6",
        "nf4",
        "float4_e2m1fn",
        "float8_e4m3fn",
        "float8_e5m2",
    }
)


@dataclass(slots=True)
class Folded:
    """A constant as its consumers see it: the stored tensor, plus how the chain decodes it."""

    tensor: Tensor
    name: str  # the value's name: the Const's name without the "_compressed" that f16 compression adds
    type: TensorType  # what flows out of the chain's last layer
    extras: list[tuple[str, Folded]] = field(default_factory=list)  # ("zero_point", ...), ("scale", ...)
    steps: list[str] = field(default_factory=list)  # "Convert to f16", "Subtract zero_point", ...
    layers: list[str] = field(default_factory=list)  # names of the folded layers after the Const
    value: Value | None = None

    @property
    def quantized(self) -> bool:
        return self.tensor.dtype in QUANTIZED_STORAGE

    @property
    def count(self) -> int:
        return self.tensor.size or 0

    def through(
        self, layer_name: str, step: str, out_type: TensorType, extra: tuple[str, Folded] | None = None
    ) -> Folded:
        """This constant after one more folded layer."""
        extras = [*self.extras, extra] if extra is not None else list(self.extras)
        return Folded(self.tensor, self.name, out_type, extras, [*self.steps, step], [*self.layers, layer_name])


def value_name(const_name: str) -> str:
    return const_name[: -len("_compressed")] if const_name.endswith("_compressed") else const_name


def fold(op: str, layer_name: str, attrs: dict[str, str], inputs: list[object], out_type: TensorType) -> Folded | None:
    """The constant ``op`` makes of ``inputs`` (Folded constants or anything else), or None to keep the layer visible."""
    if not inputs or not all(isinstance(i, Folded) for i in inputs):
        return None
    consts: list[Folded] = [i for i in inputs if isinstance(i, Folded)]
    main = consts[0]
    if op in CONVERTS and len(consts) == 1:
        return main.through(layer_name, f"Convert to {attrs.get('destination_type', out_type.dtype or '?')}", out_type)
    if op in DEQUANTIZE and len(consts) == 2:
        other = consts[1]
        if not main.quantized or other.count > main.count:
            return None  # not a decompression: float arithmetic, or the small side first
        role = DEQUANTIZE[op]
        return main.through(layer_name, f"{op} {role}", out_type, (role, other))
    if op in RESHAPES and main.steps and (main.quantized or main.extras):
        return main.through(layer_name, f"{op} to {shape_text(out_type.shape)}", out_type)
    return None


def quantization(folded: Folded) -> Quantization | None:
    """How the stored integers stand for the values the chain yields: per tensor, per channel or per group."""
    roles = dict(folded.extras)
    scale = roles.get("scale")
    if scale is None:
        return None
    base = folded.tensor.shape or ()
    scale_shape: Shape = scale.tensor.shape or ()
    details: dict[str, str] = {"scale": scale.value.name if scale.value else scale.name}
    zero_point = roles.get("zero_point")
    if zero_point is not None:
        details["zero_point"] = zero_point.value.name if zero_point.value else zero_point.name
    details["decompression"] = " → ".join(folded.steps)
    padded = (1,) * (len(base) - len(scale_shape)) + tuple(scale_shape)
    if len(padded) != len(base) or not all(isinstance(d, int) for d in (*base, *padded)):
        return Quantization(axis=None, details=dict(details))
    sizes = [int(d) for d in base]  # type: ignore[arg-type]
    scales = [int(d) for d in padded]  # type: ignore[arg-type]
    if int(np.prod(scales)) == 1:
        return Quantization(details=dict(details))
    grouped = len(sizes) >= 3 and scales[-1] == 1 and sizes[-1] > 1 and scales[:-1] == sizes[:-1]
    if grouped:
        details["groups"] = f"{shape_text(tuple(sizes[:-1]))} groups of {sizes[-1]}"
        return Quantization(scheme="block", block_size=sizes[-1], axis=len(sizes) - 1, details=dict(details))
    axes = [k for k, (b, s) in enumerate(zip(sizes, scales, strict=True)) if s == b and b > 1]
    return Quantization(axis=axes[0] if len(axes) == 1 else None, details=dict(details))
