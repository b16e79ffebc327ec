"""An ExportedProgram's shapes equal its tensor meta: every value netray reads from a ``.pt2``
has the dtype and shape of the exported graph's own ``node.meta["val"]``, symbolic sizes by name."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import pytest

import netray

torch = pytest.importorskip("torch", reason="torch is needed to export a program")


class Block(torch.nn.Module):
    """A conv, linears, an attention-style matmul, a chunk (several outputs) and a concat (``2*s``)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.q = torch.nn.Linear(8, 16)
        self.k = torch.nn.Linear(8, 16)
        self.out = torch.nn.Linear(8, 4)

    def forward(self, x: Any) -> Any:
        h = torch.relu(self.conv(x)).flatten(2).transpose(1, 2)
        q, k = self.q(h), self.k(h)
        attention = torch.softmax(q @ k.transpose(1, 2) / 4.0, dim=-1)
        left, right = (attention @ q).chunk(2, dim=-1)
        pooled = torch.cat([left, right], dim=0).mean(1)
        return self.out(pooled), (attention > 0.5).sum()


def expected(val: Any) -> tuple[str, tuple[int | str, ...]] | None:
    """(dtype, shape) of a node's meta value, symbolic sizes as torch prints them; None for non-tensors."""
    if isinstance(val, torch.Tensor):
        return str(val.dtype).removeprefix("torch."), tuple(int(d) if isinstance(d, int) else str(d) for d in val.shape)
    if isinstance(val, torch.SymInt):
        return "int64", ()
    return None


def test_exported_program_shapes_equal_its_tensor_meta(tmp_path: Path) -> None:
    torch.manual_seed(0)
    batch = torch.export.Dim("batch", min=2, max=64)
    program = torch.export.export(Block().eval(), (torch.randn(4, 3, 8, 8),), dynamic_shapes={"x": {0: batch}})
    path = tmp_path / "block.pt2"
    torch.export.save(program, path)
    model = netray.load_model(path)
    values = {name: v for g in model.all_graphs() for name, v in g.values.items()}

    compared = symbolic = 0
    for node in program.graph.nodes:
        vals = node.meta.get("val")
        if node.op == "output" or vals is None:
            continue
        if node.target is operator.getitem:
            continue  # the serialized graph names a multi-output node's results by these nodes' names
        items = [(node.name, vals)] if not isinstance(vals, (tuple, list)) else [
            (user.name, vals[user.args[1]]) for user in node.users
        ]
        for name, val in items:
            want = expected(val)
            if want is None:
                continue
            value = values[name]
            assert (value.type.dtype, value.type.shape) == want, name
            assert value.type.inferred == ""
            compared += 1
            symbolic += any(isinstance(d, str) for d in want[1])
    # every node but the output, with chunk's two results (its getitem nodes) in place of the chunk
    assert compared == len([n for n in program.graph.nodes if n.op != "output"]) - 1
    assert symbolic >= 10

    x = values["x"]
    batch_name = x.type.shape[0] if x.type.shape else None
    assert isinstance(batch_name, str) and batch_name.startswith("s")
    assert values["cat"].type.shape == (f"2*{batch_name}", 64, 8)
    assert model.properties["symbolic sizes"] == f"{batch_name} in [2, 64]"


class Sizes(torch.nn.Module):
    """Sizes used as numbers: sym_size nodes and int arithmetic on two dynamic dims."""

    def forward(self, x: Any, y: Any) -> Any:
        return torch.cat([x, y]).reshape(-1), x.shape[0] * y.shape[0] + 1


def test_symbolic_ints_are_scalar_ints_with_their_expression(tmp_path: Path) -> None:
    dims = {"x": {0: torch.export.Dim("bx", min=2, max=64)}, "y": {0: torch.export.Dim("by", min=2, max=64)}}
    program = torch.export.export(Sizes(), (torch.randn(4, 3), torch.randn(5, 3)), dynamic_shapes=dims)
    torch.export.save(program, tmp_path / "sizes.pt2")
    values = netray.load_model(tmp_path / "sizes.pt2").main.values
    checked = 0
    for node in program.graph.nodes:
        val = node.meta.get("val")
        if isinstance(val, torch.SymInt):
            assert str(values[node.name].type) == "int64[scalar]"
            assert values[node.name].metadata["symbolic value"] == str(val)
            checked += 1
        elif isinstance(val, torch.Tensor):
            assert values[node.name].type.shape == expected(val)[1]  # type: ignore[index]
            checked += 1
    assert checked == 8  # x, y, cat, reshape; two sym_size, mul, add


@pytest.mark.parametrize(
    ("written", "printed"),
    [
        ("Symbol('s77', positive=True, integer=True)", "s77"),
        ("Mul(Integer(6), Symbol('s77', positive=True, integer=True))", "6*s77"),
        ("Add(Mul(Symbol('s17', integer=True), Symbol('s77', integer=True)), Integer(1))", "s17*s77 + 1"),
        ("Add(Symbol('s0'), Integer(-1))", "s0 - 1"),
        ("FloorDiv(Symbol('s0'), Integer(2))", "(s0//2)"),
        ("FloorDiv(Add(Symbol('s0'), Integer(1)), Integer(2))", "((s0 + 1)//2)"),
        ("Add(Integer(3), Mul(Integer(-1), Symbol('s0')))", "3 - s0"),
        ("Mul(Integer(2), Pow(Symbol('s0'), Integer(2)))", "2*s0**2"),
        ("2*s0", "2*s0"),  # torch before srepr wrote str
        ("Symbol('s0'", "Symbol('s0'"),  # not parsed: kept as written
    ],
)
def test_symbolic_sizes_print_as_torch_prints_them(written: str, printed: str) -> None:
    from netray_pytorch.symbolic import symbolic_text

    assert symbolic_text(written) == printed


def test_setting_a_symbol_sizes_its_expressions_and_costs(tmp_path: Path) -> None:
    """--dim s=4 gives ``2*s`` its size 8 in every shape, and costs count with it: equal to the
    program exported at that size, whose shapes are plain numbers."""
    from netray.costs import compute_costs
    from netray.shapes import apply_dims, symbolic_dims

    torch.manual_seed(0)
    module = Block().eval()
    dynamic = torch.export.export(module, (torch.randn(4, 3, 8, 8),), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=2, max=64)}})
    torch.export.save(dynamic, tmp_path / "dynamic.pt2")
    torch.export.save(torch.export.export(module, (torch.randn(4, 3, 8, 8),)), tmp_path / "static.pt2")
    model = netray.load_model(tmp_path / "dynamic.pt2")
    static = netray.load_model(tmp_path / "static.pt2")
    [symbol] = symbolic_dims(model)
    by_dims = compute_costs(model, dims={symbol: 4}).total()
    assert by_dims == compute_costs(static).total() and by_dims["macs"]
    apply_dims(model, {symbol: 4})
    assert model.main.values["cat"].type.shape == (8, 64, 8)
    shapes = {name: v.type.shape for name, v in static.main.values.items()}
    assert {name: v.type.shape for name, v in model.main.values.items() if name in shapes} == shapes
