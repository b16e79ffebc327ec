"""ncnn's ``.bin``: every layer's weights back to back, in layer order, as ``load_model`` reads them.

:func:`plan` lists, for one layer, the arrays its ``load_model`` reads (name, element
count, load type and shape) from its params; :func:`place` walks the file with those
plans. A *type 0* array starts with a 4-byte tag saying how it is stored
(``ModelBinFromDataReader::load``):

* ``0x01306B47``: float16, padded to 4 bytes;
* ``0x000D4B38``: int8, padded to 4 bytes;
* ``0x0002C056``: float32;
* any other tag whose bytes sum to non-zero: a 256-entry float32 table then one
  uint8 index per element, padded to 4 bytes (values = table[index]);
* all zero: float32.

A *type 1* array is float32 with no tag. Only the 4-byte tags are read while the
model opens; the arrays are read when asked for.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netray import FormatError, Tensor, file_slice_loader
from netray_ncnn.formats import FORMAT
from netray_ncnn.param import LayerRecord, ParamValue

TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32 = 0x0002C056


@dataclass
class Need:
    """One array a layer's load_model reads: element count, load type (0 tagged, 1 raw float32), logical shape."""

    name: str
    count: int
    type: int
    shape: tuple[int, ...]
    note: str = ""


class PlanError(ValueError):
    """The params do not say how large an array is (a missing or inconsistent param)."""


def align4(n: int) -> int:
    return (n + 3) // 4 * 4


class Params:
    def __init__(self, layer: LayerRecord) -> None:
        self.layer = layer

    def number(self, pid: int, default: int) -> int:
        value: ParamValue | None = self.layer.params.get(pid)
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        raise PlanError(f"param {pid} is {value!r}, not a number")

    def size(self, pid: int, default: int, what: str) -> int:
        value = self.number(pid, default)
        if value < 0:
            raise PlanError(f"{what} (param {pid}) is {value}")
        return value


def kernel_shape(count: int, out: int, kernel: tuple[int, ...]) -> tuple[int, ...]:
    """``(num_output, inputs per group, *kernel)`` when the count divides so, else flat."""
    per = out
    for k in kernel:
        per *= k
    if out > 0 and per > 0 and count % per == 0:
        return (out, count // per, *kernel)
    return (count,)


def plan(layer: LayerRecord) -> list[Need]:
    """The arrays ``load_model`` of this layer type reads, in order (empty for layers that read none)."""
    p = Params(layer)
    op = layer.type
    needs: list[Need] = []
    if op.startswith(("Convolution", "Deconvolution")) or op == "DeformableConv2D":
        dynamic_id = 28 if op.startswith("Deconvolution") else 19
        if not op.endswith("3D") and op != "DeformableConv2D" and p.number(dynamic_id, 0):
            return []
        out = p.size(0, 0, "num_output")
        kw = p.size(1, 0, "kernel_w")
        kh = p.size(11, kw, "kernel_h")
        kernel: tuple[int, ...] = (kw,) if op.endswith("1D") else (kh, kw)
        if op.endswith("3D"):
            kernel = (p.size(21, kw, "kernel_d"), kh, kw)
        wds = p.size(6, 0, "weight_data_size")
        needs.append(Need("weight_data", wds, 0, kernel_shape(wds, out, kernel)))
        if p.number(5, 0):
            needs.append(Need("bias_data", out, 1, (out,)))
        int8 = p.number(8, 0) if op in ("Convolution", "ConvolutionDepthWise") else 0
        if op == "Convolution" and int8:
            needs += [Need("weight_data_int8_scales", out, 1, (out,)), Need("bottom_blob_int8_scales", 1, 1, (1,))]
        if op == "ConvolutionDepthWise" and int8 in (1, 101):
            group = p.size(7, 1, "group")
            needs += [Need("weight_data_int8_scales", group, 1, (group,)), Need("bottom_blob_int8_scales", 1, 1, (1,))]
        if op == "ConvolutionDepthWise" and int8 in (2, 102):
            needs += [Need("weight_data_int8_scales", 1, 1, (1,)), Need("bottom_blob_int8_scales", 1, 1, (1,))]
        if int8 > 100:
            needs.append(Need("top_blob_int8_scales", 1, 1, (1,)))
        return needs
    if op == "InnerProduct":
        out = p.size(0, 0, "num_output")
        wds = p.size(2, 0, "weight_data_size")
        needs.append(Need("weight_data", wds, 0, (out, wds // out) if out and wds % out == 0 else (wds,)))
        if p.number(1, 0):
            needs.append(Need("bias_data", out, 1, (out,)))
        if p.number(8, 0):
            needs += [Need("weight_data_int8_scales", out, 1, (out,)), Need("bottom_blob_int8_scales", 1, 1, (1,))]
        return needs
    if op == "Embed":
        out, wds = p.size(0, 0, "num_output"), p.size(3, 0, "weight_data_size")
        needs.append(Need("weight_data", wds, 0, (wds // out, out) if out and wds % out == 0 else (wds,)))
        if p.number(2, 0):
            needs.append(Need("bias_data", out, 1, (out,)))
        if p.number(18, 0):
            needs.append(Need("weight_data_int8_scale", 1, 1, (1,)))
        return needs
    if op == "BatchNorm":
        c = p.size(0, 0, "channels")
        return [Need(n, c, 1, (c,)) for n in ("slope_data", "mean_data", "var_data", "bias_data")]
    if op == "Bias":
        n = p.size(0, 0, "bias_data_size")
        return [Need("bias_data", n, 1, (n,))]
    if op == "Scale":
        n = p.number(0, 0)
        if n == -233:  # the scale comes in as a second input
            return []
        n = p.size(0, 0, "scale_data_size")
        needs.append(Need("scale_data", n, 1, (n,)))
        if p.number(1, 0):
            needs.append(Need("bias_data", n, 1, (n,)))
        return needs
    if op == "PReLU":
        n = p.size(0, 0, "num_slope")
        return [Need("slope_data", n, 1, (n,))]
    if op in ("Normalize", "Quantize"):
        n = p.size(3 if op == "Normalize" else 0, 0, "scale_data_size")
        return [Need("scale_data", n, 1, (n,))]
    if op == "Padding":
        n = p.size(6, 0, "per_channel_pad_data_size")
        return [Need("per_channel_pad_data", n, 1, (n,))] if n else []
    if op == "Dequantize":
        n, b = p.size(0, 0, "scale_data_size"), p.size(1, 0, "bias_data_size")
        return [Need("scale_data", n, 1, (n,))] + ([Need("bias_data", b, 1, (b,))] if b else [])
    if op == "Requantize":
        si, so, b = (
            p.size(0, 0, "scale_in_data_size"),
            p.size(1, 0, "scale_out_data_size"),
            p.size(2, 0, "bias_data_size"),
        )
        needs = [Need("scale_in_data", si, 1, (si,)), Need("scale_out_data", so, 1, (so,))]
        return needs + ([Need("bias_data", b, 1, (b,))] if b else [])
    if op in ("GroupNorm", "InstanceNorm", "LayerNorm", "RMSNorm"):
        affine_id = {"GroupNorm": 3, "InstanceNorm": 2, "LayerNorm": 2, "RMSNorm": 2}[op]
        if not p.number(affine_id, 1):
            return []
        n = p.size(1 if op == "GroupNorm" else 0, 0, "channels")
        names = ("gamma_data",) if op == "RMSNorm" else ("gamma_data", "beta_data")
        return [Need(name, n, 1, (n,)) for name in names]
    if op in ("RNN", "LSTM", "GRU"):
        return recurrent_plan(op, p)
    if op == "MultiHeadAttention":
        return attention_plan(p)
    if op == "Gemm":
        return gemm_plan(p)
    if op == "MemoryData":
        w, h, d, c = (p.size(i, 0, n) for i, n in ((0, "w"), (1, "h"), (11, "d"), (2, "c")))
        dims = (c, d, h, w) if d else (c, h, w) if c else (h, w) if h else (w,) if w else ()
        if not dims:
            return []
        count = int(np.prod(dims))
        return [Need("data", count, 1 if p.number(21, 1) else 0, dims)]
    return []


def recurrent_plan(op: str, p: Params) -> list[Need]:
    out = p.size(0, 0, "num_output")
    wds = p.size(1, 0, "weight_data_size")
    dirs = 2 if p.number(2, 0) == 2 else 1
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    hidden = p.size(3, out, "hidden_size") if op == "LSTM" else out
    if hidden == 0:
        raise PlanError("num_output is 0")
    size = wds // dirs // hidden // gates
    needs = [Need("weight_xc_data", dirs * hidden * gates * size, 0, (dirs, hidden * gates, size))]
    bias_rows = {"RNN": 1, "GRU": 4, "LSTM": 4}[op]
    needs.append(Need("bias_c_data", dirs * bias_rows * hidden, 0, (dirs, bias_rows, hidden)))
    needs.append(Need("weight_hc_data", dirs * hidden * gates * out, 0, (dirs, hidden * gates, out)))
    if op == "LSTM" and out != hidden:
        needs.append(Need("weight_hr_data", dirs * out * hidden, 0, (dirs, out, hidden)))
    if p.number(8, 0):
        needs += [
            Need(f"weight_{x}_data_int8_scales", dirs * hidden * gates, 1, (dirs, hidden * gates)) for x in ("xc", "hc")
        ]
    return needs


def block_quantize(term: int) -> tuple[int, int, bool] | None:
    """``(bits, block_size, has_input_scale)`` for ncnn's weight block quantization terms, else None."""
    bits, fmt, block = term // 100, term % 100 // 10, term % 10
    if bits not in (4, 6, 8) or fmt not in (0, 1) or not 0 <= block <= 2:
        return None
    return bits, (32, 64, 128)[block], fmt == 1


def attention_plan(p: Params) -> list[Need]:
    embed = p.size(0, 0, "embed_dim")
    wds = p.size(2, 0, "weight_data_size")
    kdim, vdim = p.size(3, embed, "kdim"), p.size(4, embed, "vdim")
    if embed == 0:
        raise PlanError("embed_dim is 0")
    qdim = wds // embed
    term = p.number(18, 0)
    quant = block_quantize(term)
    needs: list[Need] = []
    if quant is not None:
        bits, block, input_scale = quant
        for x, k, rows in (("q", qdim, embed), ("k", kdim, embed), ("v", vdim, embed), ("out", embed, qdim)):
            packed = (k * bits + 7) // 8
            needs += [
                Need(f"{x}_weight_data", packed * rows, 0, (rows, packed), f"{bits}-bit packed"),
                Need(f"{x}_bias_data", rows, 1, (rows,)),
            ]
        for x, k, rows in (("q", qdim, embed), ("k", kdim, embed), ("v", vdim, embed), ("out", embed, qdim)):
            blocks = (k + block - 1) // block
            needs.append(Need(f"{x}_weight_data_quantize_scales", blocks * rows, 1, (rows, blocks)))
        if input_scale:
            needs += [
                Need(f"{x}_weight_data_input_scales", k, 1, (k,))
                for x, k in (("q", qdim), ("k", kdim), ("v", vdim), ("out", embed))
            ]
        return needs
    for x, k, rows in (("q", qdim, embed), ("k", kdim, embed), ("v", vdim, embed), ("out", embed, qdim)):
        needs += [Need(f"{x}_weight_data", rows * k, 0, (rows, k)), Need(f"{x}_bias_data", rows, 1, (rows,))]
    if term:
        needs += [Need(f"{x}_weight_data_int8_scales", embed, 1, (embed,)) for x in "qkv"]
        needs.append(Need("out_weight_data_int8_scale", 1, 1, (1,)))
    return needs


def gemm_plan(p: Params) -> list[Need]:
    trans_a, trans_b = p.number(2, 0), p.number(3, 0)
    const_a, const_b, const_c = p.number(4, 0), p.number(5, 0), p.number(6, 0)
    m, n, k = p.size(7, 0, "constantM"), p.size(8, 0, "constantN"), p.size(9, 0, "constantK")
    broadcast_c = p.number(10, 0)
    term = p.number(18, 0)
    quant = block_quantize(term)
    needs: list[Need] = []
    if const_a:
        needs.append(Need("A_data", m * k, 0, (k, m) if trans_a else (m, k)))
    if const_b:
        if quant is not None:
            packed = (k * quant[0] + 7) // 8
            needs.append(Need("B_data", packed * n, 0, (n, packed), f"{quant[0]}-bit packed"))
        else:
            needs.append(Need("B_data", k * n, 0, (n, k) if trans_b else (k, n)))
    if const_c and broadcast_c != -1:
        shapes = {0: (1,), 1: (m,), 2: (m, 1), 3: (m, n), 4: (1, n)}
        shape = shapes.get(broadcast_c)
        if shape is None:
            raise PlanError(f"constant_broadcast_type_C {broadcast_c} is not -1..4")
        needs.append(Need("C_data", int(np.prod(shape)), 0, shape))
    if quant is not None:
        blocks = (k + quant[1] - 1) // quant[1]
        needs.append(Need("B_data_quantize_scales", blocks * n, 1, (n, blocks)))
        if quant[2]:
            needs.append(Need("B_data_input_scales", k, 1, (k,)))
    elif term:
        if const_a:
            needs.append(Need("A_data_int8_scales", m, 1, (m,)))
        if const_b:
            needs.append(Need("B_data_int8_scale", 1, 1, (1,)))
    return needs


@dataclass
class Placed:
    tensors: dict[tuple[int, str], Tensor]
    end: int  # bytes the param implies (up to where placement stopped)
    note: str


def table_loader(path: Path, offset: int, count: int, shape: tuple[int, ...]) -> Callable[[], np.ndarray]:
    """A 256-entry float32 table then one uint8 index per element: values = table[index]."""

    def load() -> np.ndarray:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if offset + 1024 + count > size:
                raise FormatError(
                    path, FORMAT, f"table-quantized tensor at {offset} lies past the end of the file ({size} bytes)"
                )
            start = offset - offset % mmap.ALLOCATIONGRANULARITY
            with mmap.mmap(f.fileno(), offset + 1024 + count - start, access=mmap.ACCESS_READ, offset=start) as mm:
                table = np.frombuffer(mm, "<f4", 256, offset - start).copy()
                index = np.frombuffer(mm, np.uint8, count, offset - start + 1024).copy()
        return table[index].reshape(shape)

    return load


def place(path: Path, layers: list[LayerRecord], plans: list[list[Need]], file_size: int) -> Placed:
    """Walk the .bin with each layer's plan; tags are read here (4 bytes each), arrays stay on disk."""
    tensors: dict[tuple[int, str], Tensor] = {}
    offset = 0
    stop_note = ""
    with open(path, "rb") as f:
        for index, (layer, needs) in enumerate(zip(layers, plans, strict=True)):
            for need in needs:
                key = (index, need.name)
                name = f"{layer.name}.{need.name}"
                if stop_note:
                    tensors[key] = Tensor(name, None, need.shape, location=stop_note)
                    continue
                where = f"{path.name} @ {offset:,}"
                if need.type == 1:
                    length, data_at, dtype = need.count * 4, offset, "float32"
                    tag = -1
                else:
                    if offset + 4 > file_size:
                        stop_note = (
                            f"{path.name} ends at {file_size:,} bytes, before {name} (at {offset:,}): not stored"
                        )
                        tensors[key] = Tensor(name, None, need.shape, location=stop_note)
                        continue
                    f.seek(offset)
                    raw = f.read(4)
                    (tag,) = struct.unpack("<I", raw)
                    data_at = offset + 4
                    if tag == TAG_FP16:
                        dtype, length = "float16", need.count * 2
                    elif tag == TAG_INT8:
                        dtype, length = "int8", need.count
                    elif tag == TAG_FP32 or sum(raw) == 0:
                        dtype, length = "float32", need.count * 4
                    else:
                        dtype, length = "float32", 1024 + need.count
                end = data_at + (align4(length) if dtype in ("float16", "int8") or length != need.count * 4 else length)
                if end > file_size:
                    stop_note = f"{path.name} ends at {file_size:,} bytes, inside {name} (which needs up to {end:,}): not stored"
                    tensors[key] = Tensor(name, dtype, need.shape, location=stop_note)
                    offset = end
                    continue
                if dtype == "float32" and length == 1024 + need.count:
                    tensor = Tensor(
                        name,
                        "float32",
                        need.shape,
                        table_loader(path, data_at, need.count, need.shape),
                        None,
                        where,
                        kind="table",
                    )
                    tensor.metadata["storage"] = "256-entry float32 table + uint8 indices"
                else:
                    np_dtype = {"float16": "<f2", "int8": "i1", "float32": "<f4"}[dtype]
                    tensor = Tensor(
                        name,
                        dtype,
                        need.shape,
                        file_slice_loader(path, data_at, length, np_dtype, need.shape, FORMAT),
                        length,
                        where,
                    )
                if need.note:
                    tensor.metadata["storage"] = need.note
                tensors[key] = tensor
                offset = end
    if stop_note:
        note = f"{path.name} is {file_size:,} bytes, shorter than the param implies; " + stop_note.split(": ")[0]
    elif offset == file_size:
        note = f"matches the param exactly ({file_size:,} bytes)"
    else:
        note = f"{path.name} is {file_size:,} bytes; the param reads {offset:,}: {file_size - offset:,} bytes after the last array are not read"
    return Placed(tensors, offset, note)
