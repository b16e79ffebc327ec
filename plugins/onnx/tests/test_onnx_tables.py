"""The ONNX plugin reads binary files without importing onnx: its generated tables stay true.

The plugin carries ONNX's serialized FileDescriptorProto and the formal ports of every
operator schema (``netray_onnx/generated_*.py``, written by
``plugins/onnx/tools/generate_tables.py``). These tests check both against the onnx
installed here (pinned in tests/requirements.txt), check that the schema lookup answers
as ``onnx.defs.get_schema`` does, and that opening a real file in a fresh process leaves
onnx unimported while giving the same model as reading onnx's own parse.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, defs, helper, numpy_helper

import netray
from netray import Graph, Model, Tensor
from netray_onnx import generated_proto, generated_schemas, schemas
from netray_onnx.tensors import inline_array

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO / "plugins" / "onnx" / "tools" / "generate_tables.py"
REGENERATE = f"the generated tables are out of date with onnx {onnx.__version__}: run .venv/bin/python {GENERATOR.relative_to(REPO)}"
BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
SAMPLE = REPO / "docs" / "sample" / "netray-sample.onnx"
VARIADIC = defs.OpSchema.FormalParameterOption.Variadic


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_tables", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the generated modules equal what the installed onnx generates ----------------------


def test_descriptor_is_the_installed_onnx_one() -> None:
    assert generated_proto.ONNX_VERSION == onnx.__version__, REGENERATE
    assert generated_proto.FILE_DESCRIPTOR == onnx.onnx_ml_pb2.DESCRIPTOR.serialized_pb, REGENERATE


def test_generated_modules_equal_a_fresh_generation() -> None:
    gen = _generator()
    assert generated_schemas.ONNX_VERSION == onnx.__version__, REGENERATE
    assert Path(generated_proto.__file__).read_text(encoding="utf-8") == gen.proto_source(), REGENERATE
    assert Path(generated_schemas.__file__).read_text(encoding="utf-8") == gen.schemas_source(), REGENERATE


def test_table_decodes_to_every_schema() -> None:
    """The compact encoding round-trips: every schema of onnx.defs, every since_version, in order."""
    expected = _generator().port_table()
    decoded = {
        (domain, op): [(v, ins[0], ins[1], outs[0], outs[1]) for v, (ins, outs) in schemas.table_versions(domain, op)]
        for domain, ops in generated_schemas.PORTS.items()
        for op in ops
    }
    assert decoded == expected, REGENERATE
    assert len(expected) > 200
    for domain, latest in generated_schemas.MAX_VERSION.items():
        assert latest == max(e[-1][0] for (d, _), e in expected.items() if d == domain)


def test_generated_modules_say_what_they_are() -> None:
    for module in (generated_proto, generated_schemas):
        head = Path(module.__file__ or "").read_text(encoding="utf-8")[:400]
        assert "generated, do not edit" in head and f"onnx {onnx.__version__}" in head


# -- the lookup answers as onnx.defs.get_schema -----------------------------------------


def _onnx_ports(op: str, version: int, domain: str) -> schemas.OpPorts | None:
    try:
        schema = defs.get_schema(op, version, domain)
    except defs.SchemaError:
        return None
    ins, outs = schema.inputs, schema.outputs
    return (
        (tuple(p.name for p in ins), bool(ins) and ins[-1].option == VARIADIC),
        (tuple(p.name for p in outs), bool(outs) and outs[-1].option == VARIADIC),
    )


def test_lookup_matches_onnx_defs_at_every_version() -> None:
    checked = 0
    mismatches = []
    for domain, ops in generated_schemas.PORTS.items():
        for op in ops:
            for version in range(1, generated_schemas.MAX_VERSION[domain] + 1):
                ours, theirs = schemas.port_specs(domain, op, version), _onnx_ports(op, version, domain)
                if ours != theirs:
                    mismatches.append(f"{domain or 'ai.onnx'} {op} v{version}: {ours} != {theirs}")
                checked += 1
            # A domain the model does not import: the latest schema (get_schema with a huge version).
            if schemas.port_specs(domain, op, None) != _onnx_ports(op, 1 << 30, domain):
                mismatches.append(f"{domain or 'ai.onnx'} {op} undeclared domain")
    assert not mismatches, "\n".join(mismatches[:20])
    assert checked > 3000


@pytest.mark.parametrize(
    ("domain", "op", "version"),
    [("", "NoSuchOp", 13), ("com.microsoft", "FusedConv", 1), ("ai.onnx", "Relu", 14), ("", "Relu", 0), ("", "Relu", -3)],
)
def test_unknown_ops_have_no_ports_as_in_onnx(domain: str, op: str, version: int) -> None:
    assert schemas.port_specs(domain, op, version) is None
    assert _onnx_ports(op, version, domain) is None


def test_newer_opset_asks_onnx_and_keeps_the_newer_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    newer = generated_schemas.MAX_VERSION[""] + 1
    relu_latest = schemas.table_versions("", "Relu")[-1]
    asked: list[tuple[str, str, int]] = []

    def live(since: int) -> Any:
        def ask(domain: str, op: str, version: int) -> tuple[int, schemas.OpPorts]:
            asked.append((domain, op, version))
            return since, ((("new",), False), (("out",), False))

        return ask

    monkeypatch.setattr(schemas, "_from_onnx", live(newer))  # an onnx newer than the table
    assert schemas.port_specs("", "Relu", newer) == ((("new",), False), (("out",), False))
    assert asked == [("", "Relu", newer)]
    monkeypatch.setattr(schemas, "_from_onnx", live(relu_latest[0] - 1))  # an older onnx than the table
    assert schemas.port_specs("", "Relu", newer) == relu_latest[1]
    monkeypatch.setattr(schemas, "_from_onnx", lambda *a: None)  # onnx absent, or it does not know the op
    assert schemas.port_specs("", "Relu", newer) == relu_latest[1]


def test_known_opsets_and_undeclared_domains_never_ask_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError(f"asked onnx for {args}")

    monkeypatch.setattr(schemas, "_from_onnx", fail)
    for domain, latest in generated_schemas.MAX_VERSION.items():
        for op in generated_schemas.PORTS[domain]:
            schemas.port_specs(domain, op, latest)
            schemas.port_specs(domain, op, None)
    assert schemas.port_specs("com.example", "Custom", 1000) is None  # a domain the table does not hold


# -- reading in a fresh process ----------------------------------------------------------


def _graphs(model: Model) -> list[Graph]:
    found: list[Graph] = []
    seen: set[int] = set()

    def walk(g: Graph) -> None:
        if id(g) in seen:
            return
        seen.add(id(g))
        found.append(g)
        for n in g.nodes:
            for sub in n.subgraphs:
                walk(sub)

    for g in model.graphs + model.functions:
        walk(g)
    return found


def _attribute_value(value: Any) -> Any:
    if isinstance(value, Tensor):
        return ["tensor", value.name, value.dtype, list(value.shape or ())]
    if isinstance(value, Graph):
        return ["graph", value.name]
    if isinstance(value, list):
        return [_attribute_value(v) for v in value]
    return repr(value)


def model_dump(model: Model) -> list[Any]:
    """Nodes, ports (with value names), attributes and scopes of every graph, as JSON-able lists."""
    return [
        [
            g.name,
            g.kind,
            [v.name for v in g.inputs],
            [v.name for v in g.outputs],
            [
                [
                    n.op,
                    n.name,
                    n.domain,
                    n.category.name,
                    list(n.scope),
                    [[p.name, [v.name for v in p.values]] for p in n.inputs],
                    [[p.name, [v.name for v in p.values]] for p in n.outputs],
                    [[a.name, a.kind.name, _attribute_value(a.value)] for a in n.attributes],
                ]
                for n in g.nodes
            ],
        ]
        for g in _graphs(model)
    ]


# The child gets model_dump's source: importing this module would import onnx.
_CHILD = "\n".join(
    [
        "from __future__ import annotations",
        "import json, sys",
        "from typing import Any",
        "import netray",
        "from netray import Graph, Model, Tensor",
        *(inspect.getsource(f) for f in (_graphs, _attribute_value, model_dump)),
        "assert 'onnx' not in sys.modules",
        "model = netray.load_model(sys.argv[1])",
        "weights = [v.initializer.numpy().shape for v in list(model.main.weights())[:3]]",
        "print(json.dumps({'onnx imported': 'onnx' in sys.modules, 'model': model_dump(model)}))",
    ]
)


@pytest.mark.parametrize(
    "path",
    [
        SAMPLE,
        BACKEND_DATA / "light" / "light_resnet50.onnx",
        BACKEND_DATA / "node" / "test_loop11" / "model.onnx",
        BACKEND_DATA / "node" / "test_if" / "model.onnx",
        BACKEND_DATA / "node" / "test_split_variable_parts_1d_opset18" / "model.onnx",
        BACKEND_DATA / "node" / "test_layer_normalization_2d_axis0_expanded" / "model.onnx",
    ],
    ids=lambda p: p.parent.name if p.name == "model.onnx" else p.stem,
)
def test_reading_a_file_does_not_import_onnx(path: Path) -> None:
    """Opening (and reading weights) in a fresh process: no onnx, and the model onnx's own parse gives."""
    result = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["onnx imported"] is False
    # The same file parsed by onnx itself and read through the in-memory ModelProto hook.
    expected = model_dump(netray.load_model(onnx.load(path, load_external_data=False)))
    assert got["model"] == json.loads(json.dumps(expected))
    assert any(n[5] for g in got["model"] for n in g[4])  # ports were named


_NEWER_CHILD = """
import sys
import netray
from onnx import defs
path, newer = sys.argv[1], int(sys.argv[2])
assert netray.load_model(path).main.nodes[0].inputs[0].name == "X"  # onnx's latest Relu (14), as the table's
schema = defs.OpSchema(
    "Relu", "", newer,
    inputs=[defs.OpSchema.FormalParameter("X_newer", "T")],
    outputs=[defs.OpSchema.FormalParameter("Y_newer", "T")],
    type_constraints=[("T", ["tensor(float)"], "")],
)
defs.register_schema(schema)  # as if the installed onnx were newer than the table
node = netray.load_model(path).main.nodes[0]
print(node.inputs[0].name, node.outputs[0].name)
"""


def test_newer_opset_than_the_table_uses_the_installed_onnx(tmp_path: Path) -> None:
    """A model from a newer ONNX: its ports come from the installed onnx's registry, imported only then."""
    newer = generated_schemas.MAX_VERSION[""] + 1
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    path = tmp_path / "newer.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", newer)]), path)
    current = tmp_path / "current.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", newer - 1)]), current)

    probe = "import sys, netray; netray.load_model(sys.argv[1]); print('onnx' in sys.modules)"
    imported = [
        subprocess.run([sys.executable, "-c", probe, str(p)], capture_output=True, text=True, timeout=120).stdout.strip()
        for p in (current, path)
    ]
    assert imported == ["False", "True"]

    # Registering a schema changes onnx's registry for the whole process: do it in a child.
    result = subprocess.run(
        [sys.executable, "-c", _NEWER_CHILD, str(path), str(newer)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["X_newer", "Y_newer"]


# -- inline tensor data decoded without onnx.numpy_helper --------------------------------


def _sample_values(data_type: int) -> np.ndarray:
    np_type = helper.tensor_dtype_to_np_dtype(data_type)
    if data_type == TensorProto.STRING:
        return np.array(["a", "bé", ""], dtype=object)
    if data_type == TensorProto.BOOL:
        return np.array([True, False, True, True, False])
    if np.issubdtype(np_type, np.complexfloating):
        return np.array([1 + 2j, -0.5j, 3], dtype=np_type)
    try:
        info = ml_dtypes.iinfo(np_type)
    except ValueError:  # not an integer type
        return np.array([0.25, 1.0, -2.0, 0.5, 3.0], dtype=np_type)
    return np.array([info.min, 0, 1, info.max, info.max - 1], dtype=np_type)


_INLINE_CASES = [
    (t, raw)
    for t in helper.get_all_tensor_dtypes()
    for raw in (False, True)
    if t != TensorProto.UNDEFINED and not (raw and t == TensorProto.STRING)  # strings have no raw_data form
]


@pytest.mark.parametrize(
    ("data_type", "raw"),
    _INLINE_CASES,
    ids=[f"{helper.tensor_dtype_to_string(t)}-{'raw' if raw else 'typed'}" for t, raw in _INLINE_CASES],
)
def test_inline_tensors_decode_as_numpy_helper(data_type: int, raw: bool) -> None:
    values = _sample_values(data_type)
    tensor = helper.make_tensor("t", data_type, [len(values)], values, raw=False)
    if raw:
        tensor = numpy_helper.from_array(numpy_helper.to_array(tensor), "t")
    assert tensor.HasField("raw_data") == raw
    want = numpy_helper.to_array(tensor)
    got = inline_array(tensor)
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype == object:
        assert got.tolist() == want.tolist()
    else:
        assert got.tobytes() == want.tobytes()
