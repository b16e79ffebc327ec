"""The TFLite plugin on real files and on flatbuffers built here with the tflite schema builders."""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import tflite
from flatbuffers import flexbuffers

from netray import AttrKind, Category, FormatError, Model
from netray.plugins import PluginManager
from netray.summary import model_summary
from netray_tflite import plugin as tflite_plugin
from netray_tflite.reader import read_tflite

BUILTIN = {name: code for code, name in tflite.utils.BUILTIN_OPCODE2NAME.items()}
T = tflite.TensorType


@pytest.fixture(scope="module")
def manager() -> PluginManager:
    pm = PluginManager(load_entry_points=False)
    pm.register(tflite_plugin, "tflite")
    return pm


# -- a small declarative builder over the tflite package's generated builder functions ----
@dataclass
class TensorDef:
    name: str
    dtype: int
    shape: list[int]
    data: bytes | None = None
    scale: list[float] | None = None
    zero_point: list[int] | None = None
    axis: int = 0
    sparse: bool = False
    signature: list[int] | None = None
    buffer_offset: tuple[int, int] | None = None  # (offset, size) for buffers stored after the flatbuffer


@dataclass
class OpDef:
    opcode: int
    inputs: list[int]
    outputs: list[int]
    options: tuple[int, object] | None = None  # (BuiltinOptions type, callable(builder) -> offset)
    custom_options: bytes | None = None


@dataclass
class GraphDef:
    name: str
    tensors: list[TensorDef]
    inputs: list[int]
    outputs: list[int]
    ops: list[OpDef]


@dataclass
class ModelDef:
    opcodes: list[tuple[int, str | None]]
    graphs: list[GraphDef]
    signatures: list[tuple[str, int, list[tuple[str, int]], list[tuple[str, int]]]] = field(default_factory=list)
    metadata: dict[str, bytes] = field(default_factory=dict)
    description: str = "netray test builder"


def _int_vector(b: flatbuffers.Builder, start, values: list[int], prepend: str = "PrependInt32") -> int:
    start(b, len(values))
    for v in reversed(values):
        getattr(b, prepend)(v)
    return b.EndVector()


def _offset_vector(b: flatbuffers.Builder, start, offsets: list[int]) -> int:
    start(b, len(offsets))
    for o in reversed(offsets):
        b.PrependUOffsetTRelative(o)
    return b.EndVector()


def build(model: ModelDef) -> bytes:
    """Serialise ``model`` with the generated tflite builders, file identifier TFL3."""
    b = flatbuffers.Builder(1024)
    buffers: list[int] = []

    def add_buffer(data: bytes | None, offset_size: tuple[int, int] | None = None) -> int:
        data_vec = b.CreateByteVector(data) if data else None
        tflite.BufferStart(b)
        if data_vec is not None:
            tflite.BufferAddData(b, data_vec)
        if offset_size is not None:
            tflite.BufferAddOffset(b, offset_size[0])
            tflite.BufferAddSize(b, offset_size[1])
        buffers.append(tflite.BufferEnd(b))
        return len(buffers) - 1

    add_buffer(None)  # buffer 0 is the empty sentinel
    graph_offsets = []
    for g in model.graphs:
        tensor_offsets = []
        for t in g.tensors:
            buffer_index = add_buffer(t.data, t.buffer_offset) if (t.data or t.buffer_offset) else 0
            name = b.CreateString(t.name)
            shape = _int_vector(b, tflite.TensorStartShapeVector, t.shape)
            signature = _int_vector(b, tflite.TensorStartShapeSignatureVector, t.signature) if t.signature else None
            quant = None
            if t.scale is not None:
                scale = b.CreateNumpyVector(np.asarray(t.scale, dtype=np.float32))
                zp = b.CreateNumpyVector(np.asarray(t.zero_point or [0] * len(t.scale), dtype=np.int64))
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, scale)
                tflite.QuantizationParametersAddZeroPoint(b, zp)
                tflite.QuantizationParametersAddQuantizedDimension(b, t.axis)
                quant = tflite.QuantizationParametersEnd(b)
            sparsity = None
            if t.sparse:
                order = _int_vector(b, tflite.SparsityParametersStartTraversalOrderVector, [0, 1])
                dims = []
                for fmt, size in ((tflite.DimensionType.DENSE, t.shape[0]), (tflite.DimensionType.SPARSE_CSR, 0)):
                    tflite.DimensionMetadataStart(b)
                    tflite.DimensionMetadataAddFormat(b, fmt)
                    tflite.DimensionMetadataAddDenseSize(b, size)
                    dims.append(tflite.DimensionMetadataEnd(b))
                dim_vec = _offset_vector(b, tflite.SparsityParametersStartDimMetadataVector, dims)
                tflite.SparsityParametersStart(b)
                tflite.SparsityParametersAddTraversalOrder(b, order)
                tflite.SparsityParametersAddDimMetadata(b, dim_vec)
                sparsity = tflite.SparsityParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape)
            if signature is not None:
                tflite.TensorAddShapeSignature(b, signature)
            tflite.TensorAddType(b, t.dtype)
            tflite.TensorAddBuffer(b, buffer_index)
            tflite.TensorAddName(b, name)
            tflite.TensorAddHasRank(b, True)
            if quant is not None:
                tflite.TensorAddQuantization(b, quant)
            if sparsity is not None:
                tflite.TensorAddSparsity(b, sparsity)
            tensor_offsets.append(tflite.TensorEnd(b))
        op_offsets = []
        for op in g.ops:
            options = op.options[1](b) if op.options else None
            custom = b.CreateByteVector(op.custom_options) if op.custom_options else None
            ins = _int_vector(b, tflite.OperatorStartInputsVector, op.inputs)
            outs = _int_vector(b, tflite.OperatorStartOutputsVector, op.outputs)
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, op.opcode)
            tflite.OperatorAddInputs(b, ins)
            tflite.OperatorAddOutputs(b, outs)
            if op.options:
                tflite.OperatorAddBuiltinOptionsType(b, op.options[0])
                tflite.OperatorAddBuiltinOptions(b, options)
            if custom is not None:
                tflite.OperatorAddCustomOptions(b, custom)
            op_offsets.append(tflite.OperatorEnd(b))
        tensors = _offset_vector(b, tflite.SubGraphStartTensorsVector, tensor_offsets)
        ops = _offset_vector(b, tflite.SubGraphStartOperatorsVector, op_offsets)
        ins = _int_vector(b, tflite.SubGraphStartInputsVector, g.inputs)
        outs = _int_vector(b, tflite.SubGraphStartOutputsVector, g.outputs)
        name = b.CreateString(g.name)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensors)
        tflite.SubGraphAddOperators(b, ops)
        tflite.SubGraphAddInputs(b, ins)
        tflite.SubGraphAddOutputs(b, outs)
        tflite.SubGraphAddName(b, name)
        graph_offsets.append(tflite.SubGraphEnd(b))

    metadata_offsets = []
    for key, data in model.metadata.items():
        index = add_buffer(data)
        name = b.CreateString(key)
        tflite.MetadataStart(b)
        tflite.MetadataAddName(b, name)
        tflite.MetadataAddBuffer(b, index)
        metadata_offsets.append(tflite.MetadataEnd(b))

    signature_offsets = []
    for key, graph_index, sig_inputs, sig_outputs in model.signatures:
        maps = []
        for entries in (sig_inputs, sig_outputs):
            offs = []
            for label, tensor_index in entries:
                label_off = b.CreateString(label)
                tflite.TensorMapStart(b)
                tflite.TensorMapAddName(b, label_off)
                tflite.TensorMapAddTensorIndex(b, tensor_index)
                offs.append(tflite.TensorMapEnd(b))
            maps.append(offs)
        ins = _offset_vector(b, tflite.SignatureDefStartInputsVector, maps[0])
        outs = _offset_vector(b, tflite.SignatureDefStartOutputsVector, maps[1])
        key_off = b.CreateString(key)
        tflite.SignatureDefStart(b)
        tflite.SignatureDefAddInputs(b, ins)
        tflite.SignatureDefAddOutputs(b, outs)
        tflite.SignatureDefAddSignatureKey(b, key_off)
        tflite.SignatureDefAddSubgraphIndex(b, graph_index)
        signature_offsets.append(tflite.SignatureDefEnd(b))

    code_offsets = []
    for builtin, custom_name in model.opcodes:
        custom_off = b.CreateString(custom_name) if custom_name else None
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(builtin, 127))
        tflite.OperatorCodeAddBuiltinCode(b, builtin)
        tflite.OperatorCodeAddVersion(b, 1)
        if custom_off is not None:
            tflite.OperatorCodeAddCustomCode(b, custom_off)
        code_offsets.append(tflite.OperatorCodeEnd(b))

    codes = _offset_vector(b, tflite.ModelStartOperatorCodesVector, code_offsets)
    graphs = _offset_vector(b, tflite.ModelStartSubgraphsVector, graph_offsets)
    buffer_vec = _offset_vector(b, tflite.ModelStartBuffersVector, buffers)
    meta_vec = _offset_vector(b, tflite.ModelStartMetadataVector, metadata_offsets) if metadata_offsets else None
    sig_vec = _offset_vector(b, tflite.ModelStartSignatureDefsVector, signature_offsets) if signature_offsets else None
    description = b.CreateString(model.description)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, graphs)
    tflite.ModelAddBuffers(b, buffer_vec)
    tflite.ModelAddDescription(b, description)
    if meta_vec is not None:
        tflite.ModelAddMetadata(b, meta_vec)
    if sig_vec is not None:
        tflite.ModelAddSignatureDefs(b, sig_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def conv_options(b: flatbuffers.Builder) -> int:
    tflite.Conv2DOptionsStart(b)
    tflite.Conv2DOptionsAddPadding(b, tflite.Padding.SAME)
    tflite.Conv2DOptionsAddStrideW(b, 2)
    tflite.Conv2DOptionsAddStrideH(b, 2)
    tflite.Conv2DOptionsAddFusedActivationFunction(b, tflite.ActivationFunctionType.RELU6)
    return tflite.Conv2DOptionsEnd(b)


def quantized_conv_model() -> tuple[ModelDef, np.ndarray]:
    """A per-channel int8 CONV_2D between QUANTIZE and DEQUANTIZE, as the TFLite converter emits."""
    rng = np.random.default_rng(0)
    weights = rng.integers(-127, 127, size=(4, 3, 3, 2), dtype=np.int8)
    bias = rng.integers(-1000, 1000, size=(4,), dtype=np.int32)
    scales = [0.01, 0.02, 0.03, 0.04]
    tensors = [
        TensorDef("input", T.FLOAT32, [1, 8, 8, 2], signature=[-1, 8, 8, 2]),
        TensorDef("input_q", T.INT8, [1, 8, 8, 2], scale=[0.5], zero_point=[-3]),
        TensorDef("conv/weights", T.INT8, [4, 3, 3, 2], data=weights.tobytes(), scale=scales, zero_point=[0] * 4, axis=0),
        TensorDef("conv/bias", T.INT32, [4], data=bias.tobytes(), scale=[s * 0.5 for s in scales], zero_point=[0] * 4),
        TensorDef("conv_q", T.INT8, [1, 4, 4, 4], scale=[0.25], zero_point=[5]),
        TensorDef("output", T.FLOAT32, [1, 4, 4, 4]),
    ]
    ops = [
        OpDef(0, [0], [1]),
        OpDef(1, [1, 2, 3], [4], options=(tflite.BuiltinOptions.Conv2DOptions, conv_options)),
        OpDef(2, [4], [5]),
    ]
    model = ModelDef(
        opcodes=[(BUILTIN["QUANTIZE"], None), (BUILTIN["CONV_2D"], None), (BUILTIN["DEQUANTIZE"], None)],
        graphs=[GraphDef("main", tensors, [0], [5], ops)],
        signatures=[("serving_default", 0, [("image", 0)], [("logits", 5)])],
        metadata={"min_runtime_version": b"2.3.0\0\0\0\0\0\0\0\0\0\0\0"},
    )
    return model, weights


def while_model() -> ModelDef:
    """counter = 0; while counter < 10: counter += 1  (cond in subgraph 1, body in subgraph 2)."""
    one = np.array([1], dtype=np.int32).tobytes()
    ten = np.array([10], dtype=np.int32).tobytes()

    def while_options(b: flatbuffers.Builder) -> int:
        tflite.WhileOptionsStart(b)
        tflite.WhileOptionsAddCondSubgraphIndex(b, 1)
        tflite.WhileOptionsAddBodySubgraphIndex(b, 2)
        return tflite.WhileOptionsEnd(b)

    main = GraphDef("main", [TensorDef("counter", T.INT32, [1]), TensorDef("result", T.INT32, [1])], [0], [1], [OpDef(0, [0], [1], options=(tflite.BuiltinOptions.WhileOptions, while_options))])
    cond = GraphDef("cond", [TensorDef("c", T.INT32, [1]), TensorDef("limit", T.INT32, [1], data=ten), TensorDef("keep_going", T.BOOL, [1])], [0], [2], [OpDef(1, [0, 1], [2])])
    body = GraphDef("body", [TensorDef("c", T.INT32, [1]), TensorDef("one", T.INT32, [1], data=one), TensorDef("next", T.INT32, [1])], [0], [2], [OpDef(2, [0, 1], [2])])
    return ModelDef(opcodes=[(BUILTIN["WHILE"], None), (BUILTIN["LESS"], None), (BUILTIN["ADD"], None)], graphs=[main, cond, body])


def custom_op_model(custom_options: bytes) -> ModelDef:
    tensors = [TensorDef("boxes", T.FLOAT32, [1, 10, 4]), TensorDef("scores", T.FLOAT32, [1, 10, 3]), TensorDef("detections", T.FLOAT32, [1, 5, 4])]
    ops = [OpDef(0, [0, 1], [2], custom_options=custom_options)]
    return ModelDef(opcodes=[(BUILTIN["CUSTOM"], "TFLite_Detection_PostProcess")], graphs=[GraphDef("main", tensors, [0, 1], [2], ops)])


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def operators_of_subgraph0(path: Path) -> int:
    """The count the format itself states: operators of subgraph 0, read with the tflite package."""
    model = tflite.Model.GetRootAs(path.read_bytes(), 0)
    return model.Subgraphs(0).OperatorsLength()


# -- real files -----------------------------------------------------------------------------
def real_tflite_files() -> list[Path]:
    from conftest import SHARED_MODELS

    return sorted((SHARED_MODELS / "tflite").rglob("*.tflite"))


@pytest.mark.parametrize("path", real_tflite_files(), ids=lambda p: p.name)
def test_real_file_opens_with_the_format_operator_count(shared_models: Path, manager: PluginManager, path: Path) -> None:
    model = manager.load(path)
    summary = model_summary(model)
    assert summary["format"] == "TFLite 3"
    assert summary["graphs"][0]["nodes"] == operators_of_subgraph0(path)
    assert model.graphs[0].inputs and model.graphs[0].outputs
    for v in model.graphs[0].weights():
        assert v.initializer is not None
        array = v.initializer.numpy()
        if v.initializer.dtype == "string":  # the buffer's count and offsets, then the strings
            assert array.dtype == object and all(isinstance(x, str) for x in array.ravel().tolist())
            continue
        assert array.nbytes == v.initializer.byte_size


def test_half_plus_two_weights_are_the_real_constants(shared_models: Path, manager: PluginManager) -> None:
    model = manager.load(shared_models / "tflite" / "tf_serving" / "half_plus_two.tflite")
    weights = {v.name: float(v.initializer.numpy()) for v in model.graphs[0].weights() if v.initializer is not None}
    assert weights == {"a": 0.5, "b": 2.0}
    assert [n.op for n in model.graphs[0].nodes] == ["MUL", "ADD"]
    assert model.metadata["min_runtime_version"] == "1.5.0"
    assert model.producer == "TOCO Converted."


def test_signature_def_of_real_file(shared_models: Path, manager: PluginManager) -> None:
    model = manager.load(shared_models / "tflite" / "tf2onnx" / "regression.tflite")
    assert "signature serving_default" in model.properties
    assert model.graphs[0].metadata["signature"] == "serving_default"


def test_real_custom_op_with_flexbuffer_options(shared_models: Path, manager: PluginManager) -> None:
    model = manager.load(shared_models / "tflite" / "tf_serving" / "parse_example.tflite")
    (node,) = model.graphs[0].nodes
    assert node.op == "ParseExampleV2"
    assert node.category is Category.CUSTOM and node.domain == "custom"
    options = node.attribute("custom_options")
    assert options is not None and options.value == {"num_sparse": 0}


# -- generated files ------------------------------------------------------------------------
def test_quantized_conv_per_channel(tmp_path: Path, manager: PluginManager) -> None:
    spec, weights = quantized_conv_model()
    path = write(tmp_path, "quant.tflite", build(spec))
    model = manager.load(path)
    graph = model.graphs[0]
    assert [n.op for n in graph.nodes] == ["QUANTIZE", "CONV_2D", "DEQUANTIZE"]
    conv = graph.nodes[1]
    assert conv.category is Category.LAYER
    assert {a.name: a.value for a in conv.attributes if a.name in ("padding", "stride_w", "fused_activation_function")} == {
        "padding": "SAME",
        "stride_w": 2,
        "fused_activation_function": "RELU6",
    }
    assert [p.name for p in conv.inputs] == ["input", "filter", "bias"]
    w = graph.values["conv/weights"]
    assert w.quantization is not None
    assert w.quantization.axis == 0 and list(w.quantization.scale) == pytest.approx([0.01, 0.02, 0.03, 0.04])
    q_in = graph.values["input_q"].quantization
    assert q_in is not None and q_in.axis is None and list(q_in.zero_point) == [-3]
    assert w.initializer is not None and np.array_equal(w.initializer.numpy(), weights)
    assert graph.inputs[0].type.shape == (None, 8, 8, 2)  # -1 in shape_signature
    assert model.metadata["min_runtime_version"] == "2.3.0"
    assert "image=input" in model.properties["signature serving_default"]
    assert model_summary(model)["parameters"] == weights.size + 4


def test_while_subgraphs_attach_to_the_node(tmp_path: Path, manager: PluginManager) -> None:
    path = write(tmp_path, "while.tflite", build(while_model()))
    model = manager.load(path)
    assert [g.name for g in model.graphs] == ["main", "cond", "body"]
    (node,) = model.graphs[0].nodes
    assert node.op == "WHILE" and node.category is Category.CONTROL
    assert [g.name for g in node.subgraphs] == ["cond", "body"]
    cond = node.attribute("cond_subgraph")
    assert cond is not None and cond.kind is AttrKind.GRAPH and cond.value is model.graphs[1]
    assert [n.op for n in model.graphs[2].nodes] == ["ADD"]
    assert model_summary(model)["graphs"][0]["nodes"] == 1
    assert len(list(model.all_graphs())) == 3


def test_recursive_while_is_shown_without_a_cycle(tmp_path: Path, manager: PluginManager) -> None:
    spec = while_model()
    spec.graphs[2].ops.append(OpDef(0, [0], [2], options=spec.graphs[0].ops[0].options))  # body calls WHILE(cond, body)
    spec.graphs[2].ops[0].outputs = [0]
    model = manager.load(write(tmp_path, "recursive.tflite", build(spec)))
    body_while = model.graphs[2].nodes[1]
    assert body_while.op == "WHILE"
    assert model.graphs[2] not in body_while.subgraphs
    assert body_while.attribute("body_subgraph_index") is not None
    assert len(list(model.all_graphs())) == 3  # walking terminates


def test_if_branches_and_support_metadata_name(tmp_path: Path, manager: PluginManager) -> None:
    def if_options(b: flatbuffers.Builder) -> int:
        tflite.IfOptionsStart(b)
        tflite.IfOptionsAddThenSubgraphIndex(b, 1)
        tflite.IfOptionsAddElseSubgraphIndex(b, 2)
        return tflite.IfOptionsEnd(b)

    # A TFLite Support ModelMetadata flatbuffer ("M001"): its first field is the model name.
    meta = flatbuffers.Builder(64)
    name = meta.CreateString("Toy classifier")
    meta.StartObject(1)
    meta.PrependUOffsetTRelativeSlot(0, name, 0)
    meta.Finish(meta.EndObject(), file_identifier=b"M001")
    branch = [TensorDef("v", T.FLOAT32, [2]), TensorDef("r", T.FLOAT32, [2])]
    spec = ModelDef(
        opcodes=[(BUILTIN["IF"], None), (BUILTIN["RELU"], None), (BUILTIN["TANH"], None)],
        graphs=[
            GraphDef("main", [TensorDef("flag", T.BOOL, []), TensorDef("x", T.FLOAT32, [2]), TensorDef("y", T.FLOAT32, [2])], [0, 1], [2],
                     [OpDef(0, [0, 1], [2], options=(tflite.BuiltinOptions.IfOptions, if_options))]),
            GraphDef("then", branch, [0], [1], [OpDef(1, [0], [1])]),
            GraphDef("else", branch, [0], [1], [OpDef(2, [0], [1])]),
        ],
        metadata={"TFLITE_METADATA": bytes(meta.Output())},
    )
    model = manager.load(write(tmp_path, "if.tflite", build(spec)))
    (node,) = model.graphs[0].nodes
    assert node.op == "IF" and [p.name for p in node.inputs] == ["cond", "input1"]
    assert [g.name for g in node.subgraphs] == ["then", "else"]
    assert [n.op for n in node.subgraphs[1].nodes] == ["TANH"]
    assert model.properties["support_metadata_name"] == "Toy classifier"


def test_custom_op_name_and_options(tmp_path: Path, manager: PluginManager) -> None:
    fbb = flexbuffers.Builder()
    with fbb.Map():
        fbb.Int("max_detections", 5)
        fbb.Float("nms_iou_threshold", 0.5)
        fbb.Bool("use_regular_nms", False)
    model = manager.load(write(tmp_path, "custom.tflite", build(custom_op_model(bytes(fbb.Finish())))))
    (node,) = model.graphs[0].nodes
    assert node.op == "TFLite_Detection_PostProcess" and node.category is Category.CUSTOM
    options = node.attribute("custom_options")
    assert options is not None
    assert options.value["max_detections"] == 5 and options.value["nms_iou_threshold"] == pytest.approx(0.5)


def test_custom_op_opaque_options_show_as_bytes(tmp_path: Path, manager: PluginManager) -> None:
    model = manager.load(write(tmp_path, "opaque.tflite", build(custom_op_model(b"\x01\x02\x03"))))
    options = model.graphs[0].nodes[0].attribute("custom_options")
    assert options is not None and "3 bytes" in options.value


def test_sparse_tensor_metadata(tmp_path: Path, manager: PluginManager) -> None:
    values = np.array([1.5, -2.0, 3.25], dtype=np.float32)
    tensors = [
        TensorDef("x", T.FLOAT32, [1, 4]),
        TensorDef("w_sparse", T.FLOAT32, [4, 4], data=values.tobytes(), sparse=True),
        TensorDef("y", T.FLOAT32, [1, 4]),
    ]
    spec = ModelDef([(BUILTIN["FULLY_CONNECTED"], None)], [GraphDef("main", tensors, [0], [2], [OpDef(0, [0, 1], [2])])])
    model = manager.load(write(tmp_path, "sparse.tflite", build(spec)))
    t = model.graphs[0].values["w_sparse"].initializer
    assert t is not None and t.kind == "sparse"
    assert t.metadata["sparsity.traversal_order"] == "[0, 1]"
    assert "SPARSE_CSR" in t.metadata["sparsity.dim_metadata"]
    assert np.array_equal(t.numpy(), values)


def test_buffer_stored_after_the_flatbuffer(tmp_path: Path, manager: PluginManager) -> None:
    data = np.arange(6, dtype=np.float32)
    tensors = [TensorDef("x", T.FLOAT32, [6]), TensorDef("c", T.FLOAT32, [6], buffer_offset=(0, 0)), TensorDef("y", T.FLOAT32, [6])]
    spec = ModelDef([(BUILTIN["ADD"], None)], [GraphDef("main", tensors, [0], [2], [OpDef(0, [0, 1], [2])])])
    # First pass finds the flatbuffer's size; the data goes after it, 16-byte aligned.
    size = len(build(spec))
    offset = (size + 64 + 15) // 16 * 16
    tensors[1].buffer_offset = (offset, data.nbytes)
    blob = build(spec)
    assert len(blob) <= offset
    path = write(tmp_path, "large.tflite", blob + b"\0" * (offset - len(blob)) + data.tobytes())
    t = manager.load(path).graphs[0].values["c"].initializer
    assert t is not None and np.array_equal(t.numpy(), data)
    assert f"@ {offset}" in t.location


def test_operator_info_hook(manager: PluginManager) -> None:
    info = manager.operator_info("TFLite", "", "DEPTHWISE_CONV_2D")
    assert info is not None and info.category is Category.LAYER and info.summary
    assert manager.operator_info("TFLite", "", "NO_SUCH_OP") is None


def test_sniff_claims_by_identifier_not_by_name(tmp_path: Path) -> None:
    spec, _ = quantized_conv_model()
    blob = build(spec)
    renamed = write(tmp_path, "model.bin", blob)
    claim = tflite_plugin.netray_sniff(path=renamed, head=blob[:4096])
    assert claim is not None and claim.confidence == 1.0
    other = write(tmp_path, "notes.txt", b"hello world, not a model")
    assert tflite_plugin.netray_sniff(path=other, head=other.read_bytes()) is None


# -- hostile input -----------------------------------------------------------------------------
def test_truncated_files_fail_cleanly(tmp_path: Path, manager: PluginManager) -> None:
    spec, _ = quantized_conv_model()
    blob = build(spec)
    for cut in (9, 16, 40, len(blob) // 3, len(blob) // 2, len(blob) - 7):
        path = write(tmp_path, f"cut{cut}.tflite", blob[:cut])
        try:
            model = manager.load(path)
        except FormatError as exc:
            assert "TFLite" in str(exc) and str(path) in str(exc)
        else:  # a safe partial view is acceptable, a crash is not
            assert isinstance(model, Model)


def test_tiny_file_is_a_format_error(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="too short"):
        read_tflite(write(tmp_path, "tiny.tflite", b"\x04\0\0\0TF"))


def test_random_bytes_never_crash(tmp_path: Path, manager: PluginManager) -> None:
    rng = random.Random(1234)
    for i in range(40):
        data = bytearray(rng.randbytes(rng.choice([64, 512, 4096])))
        data[4:8] = b"TFL3"
        path = write(tmp_path, f"random{i}.tflite", bytes(data))
        try:
            manager.load(path)
        except FormatError:
            pass


def test_buffer_offset_past_end_raises_on_read(tmp_path: Path, manager: PluginManager) -> None:
    tensors = [TensorDef("x", T.FLOAT32, [4]), TensorDef("c", T.FLOAT32, [4], buffer_offset=(10_000_000, 16)), TensorDef("y", T.FLOAT32, [4])]
    spec = ModelDef([(BUILTIN["ADD"], None)], [GraphDef("main", tensors, [0], [2], [OpDef(0, [0, 1], [2])])])
    model = manager.load(write(tmp_path, "pastend.tflite", build(spec)))  # structure opens
    t = model.graphs[0].values["c"].initializer
    assert t is not None
    with pytest.raises(FormatError, match="past the end"):
        t.numpy()


def test_absurd_vector_length_is_refused(tmp_path: Path) -> None:
    spec, _ = quantized_conv_model()
    blob = bytearray(build(spec))
    sg = tflite.Model.GetRootAs(bytes(blob), 0).Subgraphs(0)
    length_at = sg._tab.Vector(sg._tab.Offset(4)) - 4  # the tensors vector's length prefix
    struct.pack_into("<I", blob, length_at, 0x7FFFFFF0)
    with pytest.raises(FormatError, match="more than the"):
        read_tflite(write(tmp_path, "absurd.tflite", bytes(blob)))


def test_bad_tensor_index_is_a_format_error(tmp_path: Path) -> None:
    tensors = [TensorDef("x", T.FLOAT32, [4]), TensorDef("y", T.FLOAT32, [4])]
    spec = ModelDef([(BUILTIN["RELU"], None)], [GraphDef("main", tensors, [0], [1], [OpDef(0, [99], [1])])])
    with pytest.raises(FormatError, match="tensor 99"):
        read_tflite(write(tmp_path, "badindex.tflite", build(spec)))


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "executed"))


def test_pickle_named_tflite_is_never_executed(tmp_path: Path, manager: PluginManager) -> None:
    marker = tmp_path / "marker.txt"
    path = write(tmp_path, "evil.tflite", pickle.dumps(_WritesMarker(marker)))
    with pytest.raises(FormatError):
        manager.load(path)
    assert not marker.exists()


def test_file_is_not_modified(tmp_path: Path, manager: PluginManager) -> None:
    spec, _ = quantized_conv_model()
    path = write(tmp_path, "ro.tflite", build(spec))
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    model = manager.load(path)
    for v in model.graphs[0].weights():
        assert v.initializer is not None
        v.initializer.numpy()
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_real_tflite_files_are_present(shared_models: Path) -> None:
    """Guards the parametrised real-file tests against silently collecting nothing."""
    assert len(real_tflite_files()) >= 5


# -- installs alone (one test for both of this engineer's plugins: TFLite and Keras) ---------
SLOW = os.environ.get("NETRAY_SLOW_TESTS") == "1" or os.environ.get("CI", "").lower() == "true"


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="creates a venv and installs packages from PyPI: set NETRAY_SLOW_TESTS=1")
def test_tflite_and_keras_plugins_install_alone(tmp_path: Path, repo_root: Path, shared_models: Path) -> None:
    """core alone -> install hints; core + tflite alone -> .tflite opens; core + keras alone -> .keras/.h5 open."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    netray_cli = venv / "bin" / "netray"
    src = tmp_path / "src"  # a copy: building must not write into the working tree
    # Only what pip installs: the repository also holds benchmark models (bench/.models, sparse files
    # of many GB that a copy would fill in).
    skip = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", ".*_cache", "tests")
    for part in ("core", "plugins"):
        shutil.copytree(repo_root / part, src / part, ignore=skip)

    def pip(*args: str) -> None:
        subprocess.run([str(py), "-m", "pip", "-q", *args], check=True, timeout=900)

    def info(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(netray_cli), "info", str(path), "--json"], capture_output=True, text=True, timeout=300)

    tflite_file = shared_models / "tflite" / "tf_serving" / "half_plus_two.tflite"
    keras_file = shared_models / "keras" / "keras3" / "melody_lstm.keras"
    h5_file = shared_models / "keras" / "r4ghu_mnist" / "mnistCNN.h5"
    pip("install", str(src / "core"))
    for path, dist in ((tflite_file, "netray-plugin-tflite"), (keras_file, "netray-plugin-keras"), (h5_file, "netray-plugin-keras")):
        result = info(path)
        assert result.returncode != 0 and f"pip install {dist}" in result.stderr + result.stdout, (path, result.stderr)

    pip("install", str(src / "plugins" / "tflite"))
    result = info(tflite_file)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["graphs"][0]["nodes"] == 2
    assert "pip install netray-plugin-keras" in info(keras_file).stderr
    assert subprocess.run([str(py), "-c", "import h5py"], capture_output=True).returncode != 0, "h5py must not come with tflite"

    pip("uninstall", "-y", "netray-plugin-tflite")
    pip("install", str(src / "plugins" / "keras"))
    for path, layers in ((keras_file, 3), (h5_file, 9)):
        result = info(path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["graphs"][0]["nodes"] == layers
    assert "pip install netray-plugin-tflite" in info(tflite_file).stderr
    assert subprocess.run([str(py), "-c", "import keras"], capture_output=True).returncode != 0, "keras must not be needed"
