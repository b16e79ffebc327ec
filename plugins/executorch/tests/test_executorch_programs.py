"""What the ExecuTorch plugin reads from real programs, compared with what ExecuTorch serialized
(its ``executorch_program`` dataclasses) and with the torch modules' own weights."""

from __future__ import annotations

from typing import Any

import executorch_exports as exports
import numpy as np
import pytest

import netray

torch = pytest.importorskip("torch")


def _instructions(program: Any, plan: int = 0) -> list[Any]:
    return [i.instr_args for chain in program.execution_plan[plan].chains for i in chain.instructions]


def _expected_ops(program: Any, plan: int = 0) -> list[str]:
    execution_plan = program.execution_plan[plan]
    ops = []
    for args in _instructions(program, plan):
        kind = type(args).__name__
        if kind == "KernelCall":
            operator = execution_plan.operators[args.op_index]
            ops.append(f"{operator.name}.{operator.overload}" if operator.overload else operator.name)
        elif kind == "DelegateCall":
            ops.append(execution_plan.delegates[args.delegate_index].id)
        else:
            ops.append(kind)
    return ops


def _stored_constants(program: Any, plan: int = 0) -> dict[str, np.ndarray]:
    """Every constant tensor of a plan as ExecuTorch holds it before serializing (Program.constant_buffer)."""
    dtypes = {6: np.float32, 4: np.int64, 15: None}
    out = {}
    for index, evalue in enumerate(program.execution_plan[plan].values):
        tensor = evalue.val
        if type(tensor).__name__ != "Tensor" or tensor.data_buffer_idx == 0 or tensor.allocation_info is not None:
            continue
        dtype = dtypes.get(int(tensor.scalar_type))
        if dtype is None:
            continue
        storage = program.constant_buffer[tensor.data_buffer_idx].storage
        out[f"%{index}"] = np.frombuffer(storage, dtype).reshape(tensor.sizes)
    return out


def _weight(node: netray.Node, port: str) -> np.ndarray:
    for p in node.inputs:
        if p.name == port:
            (value,) = p.values
            assert value.initializer is not None, f"{node.op}.{port} is not stored"
            return value.initializer.numpy()
    raise AssertionError(f"{node.op} has no port {port}")


def test_portable_program_matches_the_exporter_and_the_module() -> None:
    exported = exports.convnet()
    model = netray.load_model(exported.path)
    graph = model.main
    assert (model.format, model.format_version, graph.name, graph.kind) == ("ExecuTorch", "ET12", "forward", "main")
    assert [n.op for n in graph.nodes] == _expected_ops(exported.program)
    # Every KernelCall's tensors are its ports, in the schema's names; outputs are the out arguments.
    conv = graph.nodes[0]
    assert conv.op == "aten::convolution.out" and conv.category == netray.Category.LAYER
    assert [p.name for p in conv.inputs] == ["input", "weight", "bias"]
    attributes = {a.name: a.value for a in conv.attributes}
    assert attributes["stride"] == [1, 1] and attributes["groups"] == 1 and attributes["transposed"] is False
    args = _instructions(exported.program)[0].args
    assert conv.inputs[0].values[0].name == f"%{args[0]}" and conv.outputs[0].values[0].name == f"%{args[-1]}"
    # Constants read lazily from the constant segment equal ExecuTorch's own buffers and the module's weights.
    stored = _stored_constants(exported.program)
    weights = {name: t for name, t in model.all_tensors()}
    assert set(stored) == set(weights)
    for name, array in stored.items():
        assert np.array_equal(weights[name].numpy(), array)
    module = exported.module
    np.testing.assert_array_equal(_weight(conv, "weight"), module.conv.weight.detach().numpy())
    np.testing.assert_array_equal(_weight(conv, "bias"), module.conv.bias.detach().numpy())
    addmm = next(n for n in graph.nodes if n.op == "aten::addmm.out")
    np.testing.assert_array_equal(_weight(addmm, "self"), module.fc.bias.detach().numpy())
    assert graph.inputs[0].type == netray.TensorType("float32", (1, 3, 8, 8))
    assert graph.outputs[0].type.shape == (1, 2)
    assert model.properties["constant storage"] == "constant segment 0 (5 tensors)"


def test_xnnpack_delegates_hold_the_subgraph_they_run() -> None:
    exported = exports.convnet_xnnpack()
    model = netray.load_model(exported.path)
    graph = model.main
    assert [n.op for n in graph.nodes] == _expected_ops(exported.program)
    delegates = [n for n in graph.nodes if n.op == "XnnpackBackend"]
    assert len(delegates) == len(exported.program.execution_plan[0].delegates) == 2
    first, second = (d.subgraphs[0] for d in delegates)
    assert [n.op for n in first.nodes] == ["XNNStaticTranspose", "XNNConv2d", "XNNStaticTranspose"]
    assert [n.op for n in second.nodes] == ["XNNFullyConnected", "XNNAdd"]
    # The delegate call's arguments meet the subgraph's external values, by name.
    assert [v.name for v in first.inputs] == [v.name for v in delegates[0].input_values() if v.initializer is None]
    assert [v.name for v in first.outputs] == [v.name for v in delegates[0].output_values()]
    assert graph.inputs[0] in list(delegates[0].input_values())
    # XNNPACK's weights come from the program's named data, in XNNPACK's layouts (convolution filters OHWI).
    module = exported.module
    conv = first.nodes[1]
    np.testing.assert_array_equal(_weight(conv, "filter"), module.conv.weight.detach().permute(0, 2, 3, 1).numpy())
    np.testing.assert_array_equal(_weight(conv, "bias"), module.conv.bias.detach().numpy())
    fc = second.nodes[0]
    np.testing.assert_array_equal(_weight(fc, "filter"), module.fc.weight.detach().numpy())
    assert {a.name: a.value for a in conv.attributes}["kernel_height"] == 3
    assert not model.tensors  # every named blob is a weight of a delegate's subgraph
    # The processed data is the delegate's own weight: the bytes ExecuTorch handed to the backend.
    for node, delegate in zip(delegates, exported.program.execution_plan[0].delegates, strict=True):
        blob = _weight(node, "processed")
        reference = exported.program.backend_delegate_data[delegate.processed.index].data
        assert blob.tobytes() == bytes(reference)
    assert model.properties["delegates"] == ["XnnpackBackend ×2"]


def test_quantized_xnnpack_values_carry_their_scales() -> None:
    exported = exports.mlp_xnnpack_int8()
    model = netray.load_model(exported.path)
    (delegate,) = [n for n in model.main.nodes if n.op == "XnnpackBackend"]
    sub = delegate.subgraphs[0]
    assert [n.op for n in sub.nodes] == ["XNNConvert", "XNNFullyConnected", "XNNFullyConnected", "XNNConvert"]
    fc1 = sub.nodes[1]
    (filter_value,) = next(p for p in fc1.inputs if p.name == "filter").values
    assert filter_value.initializer is not None and filter_value.initializer.dtype == "int8"
    q = filter_value.quantization
    assert q is not None and q.axis == 0 and len(q.scale) == 16
    dequantized = filter_value.initializer.numpy().astype(np.float32) * np.asarray(q.scale, np.float32)[:, None]
    reference = exported.module.fc1.weight.detach().numpy()
    assert np.abs(dequantized - reference).max() <= max(q.scale) / 2 + 1e-6
    (activation,) = next(p for p in fc1.inputs if p.name == "input1").values
    assert activation.quantization is not None and len(activation.quantization.scale) == 1


def test_mutable_buffer_has_its_initial_state() -> None:
    exported = exports.mutable_buffer()
    model = netray.load_model(exported.path)
    count = model.main.values["count"]
    assert count.initializer is not None and count.initializer.metadata == {"mutable": True}
    np.testing.assert_array_equal(count.initializer.numpy(), np.arange(3, dtype=np.float32))
    assert "mutable data" in count.initializer.location and model.properties["mutable data segments"] == 1
    copy = next(n for n in model.main.nodes if n.op == "aten::copy_")
    assert [p.name for p in copy.inputs] == ["self", "src"] and copy.inputs[0].values == [count]
    assert copy.outputs[0].values[0].metadata["writes"] == "count"


def test_control_flow_instructions() -> None:
    exported = exports.control_flow()
    model = netray.load_model(exported.path)
    nodes = model.main.nodes
    assert [n.op for n in nodes] == _expected_ops(exported.program)
    expected = [a for a in _instructions(exported.program) if type(a).__name__ == "JumpFalseCall"]
    jumps = [n for n in nodes if n.op == "JumpFalseCall"]
    assert [n.attribute("destination_instruction").value for n in jumps] == [a.destination_instruction for a in expected]
    assert [n.inputs[0].values[0].name for n in jumps] == [f"%{a.cond_value_index}" for a in expected]
    moves = [n for n in nodes if n.op == "MoveCall"]
    assert moves and all(n.category == netray.Category.CONTROL for n in moves)


def test_dynamic_shapes_are_upper_bounds() -> None:
    model = netray.load_model(exports.dynamic_shape().path)
    graph = model.main
    (x,) = graph.inputs
    assert x.type.shape == (16, 2, 3) and x.metadata["shape_dynamism"] == "dynamic_bound"
    ops = [n.op for n in graph.nodes]
    assert ops[:2] == ["aten::sym_size.int", "executorch_prim::et_view.default"]
    view = graph.nodes[1]
    assert [p.name for p in view.inputs] == ["self", "size"]
    assert view.inputs[1].values == list(graph.nodes[0].output_values())  # the computed batch size flows in


def test_methods_constant_methods_bfloat16_and_stack_traces() -> None:
    exported = exports.two_methods()
    model = netray.load_model(exported.path)
    assert [g.name for g in model.graphs] == ["forward", "triple"]
    assert [g.kind for g in model.graphs] == ["main", "method"]
    assert model.metadata == {"get_vocab_size": 512, "get_name": "tiny", "get_scales": [0.5, 0.25], "use_cache": True}
    permute = model.main.nodes[0]
    weight = next(p for p in permute.inputs if p.name == "self").values[0].initializer
    assert weight is not None and weight.dtype == "bfloat16"
    np.testing.assert_array_equal(weight.numpy().astype(np.float32), exported.module.fc.weight.detach().float().numpy())
    assert all(n.source is not None and n.source.line for n in model.main.nodes)


def test_channels_last_constants_come_back_in_logical_order() -> None:
    exported = exports.channels_last()
    model = netray.load_model(exported.path)
    conv = model.main.nodes[0]
    (weight,) = next(p for p in conv.inputs if p.name == "weight").values
    assert weight.metadata["dim_order"] == [0, 2, 3, 1]
    np.testing.assert_array_equal(weight.initializer.numpy(), exported.module.conv.weight.detach().numpy())


def test_inline_constant_buffer_of_older_files() -> None:
    exported = exports.inline_constants()
    model = netray.load_model(exported.path)
    assert model.properties["constant storage"].startswith("inline constant_buffer")
    assert "extended header" in model.properties
    addmm = next(n for n in model.main.nodes if n.op == "aten::addmm.out")
    np.testing.assert_array_equal(_weight(addmm, "self"), exported.module.bias.detach().numpy())
    permute = model.main.nodes[0]
    np.testing.assert_array_equal(_weight(permute, "self"), exported.module.weight.detach().numpy())
