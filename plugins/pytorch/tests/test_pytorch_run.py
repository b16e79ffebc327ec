"""Running ExportedProgram files (contract 1.2): torch's FX interpreter, every node captured.

Small GPT-2 and Llama-style models with seeded random weights are exported with
``torch.export`` and saved; netray opens the ``.pt2`` and runs it. The outputs equal
``ep.module()``'s bit for bit; every value captured equals what the FX graph's own generated
code computes for that node (each node made an output); a NaN from the log of a negative
constant is captured first at that node; gradients equal autograd on the original module
and central finite differences on a float64 MLP.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netray
from netray.runtime import RunCancelled, RunError, Runtime, RuntimeMissing

torch = pytest.importorskip("torch", reason="running ExportedProgram files needs torch")
F = torch.nn.functional


class GPTBlock(torch.nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc = torch.nn.Linear(d, 4 * d)
        self.out = torch.nn.Linear(4 * d, d)

    def forward(self, x: Any) -> Any:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=-1)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        attention = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.heads)
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        attention = attention.masked_fill(~mask, float("-inf")).softmax(-1)
        x = x + self.proj((attention @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(torch.nn.Module):
    """GPT-2 in small: token and position embeddings, pre-norm blocks, a tied-free head."""

    def __init__(self, vocab: int = 50, d: int = 16, layers: int = 2) -> None:
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        self.wpe = torch.nn.Embedding(32, d)
        self.blocks = torch.nn.ModuleList([GPTBlock(d, 2) for _ in range(layers)])
        self.ln = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)

    def forward(self, idx: Any) -> Any:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


class RMSNorm(torch.nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))

    def forward(self, x: Any) -> Any:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.weight


class Llama(torch.nn.Module):
    """A Llama-style layer: RMSNorm, rotary positions, SDPA (causal), SwiGLU MLP; two outputs."""

    def __init__(self, vocab: int = 40, d: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.embed = torch.nn.Embedding(vocab, d)
        self.norm1 = RMSNorm(d)
        self.q = torch.nn.Linear(d, d, bias=False)
        self.k = torch.nn.Linear(d, d, bias=False)
        self.v = torch.nn.Linear(d, d, bias=False)
        self.o = torch.nn.Linear(d, d, bias=False)
        self.norm2 = RMSNorm(d)
        self.gate = torch.nn.Linear(d, 32, bias=False)
        self.up = torch.nn.Linear(d, 32, bias=False)
        self.down = torch.nn.Linear(32, d, bias=False)
        self.head = torch.nn.Linear(d, vocab, bias=False)
        half = d // heads // 2
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(half, dtype=torch.float32) / half)))

    def rotate(self, x: Any, cos: Any, sin: Any) -> Any:
        a, b = x.chunk(2, dim=-1)
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)

    def forward(self, ids: Any) -> Any:
        b, t = ids.shape
        x = self.embed(ids)
        h = self.norm1(x)
        q, k, v = (m(h).view(b, t, self.heads, -1).transpose(1, 2) for m in (self.q, self.k, self.v))
        angles = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        cos, sin = angles.cos(), angles.sin()
        q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(y.transpose(1, 2).reshape(b, t, -1))
        h = self.norm2(x)
        x = x + self.down(F.silu(self.gate(h)) * self.up(h))
        logits = self.head(x)
        return logits, logits.logsumexp(-1)


class Poisoned(torch.nn.Module):
    """Finite until ``log`` of a negative constant (a buffer), deep after two layers."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(8, 8)
        self.b = torch.nn.Linear(8, 8)
        self.c = torch.nn.Linear(8, 4)
        self.register_buffer("negative", torch.tensor(-2.0))

    def forward(self, x: Any) -> Any:
        h = torch.tanh(self.b(torch.relu(self.a(x))))
        h = h + torch.log(self.negative)
        return self.c(h)


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(5, 7)
        self.fc2 = torch.nn.Linear(7, 3)

    def forward(self, x: Any) -> Any:
        return self.fc2(torch.tanh(self.fc1(x)))


def export(module: Any, example: tuple[Any, ...], path: Path) -> Path:
    torch.export.save(torch.export.export(module.eval(), example), str(path))
    return path


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path, tuple[Any, ...]]]:
    """name -> (original module, saved .pt2, example inputs), weights seeded."""
    folder = tmp_path_factory.mktemp("pt2")
    made: dict[str, tuple[Any, Path, tuple[Any, ...]]] = {}
    torch.manual_seed(0)
    gpt, ids = GPT(), torch.randint(0, 50, (2, 8))
    made["gpt"] = (gpt, export(gpt, (ids,), folder / "gpt.pt2"), (ids,))
    torch.manual_seed(1)
    llama, ids = Llama(), torch.randint(0, 40, (2, 6))
    made["llama"] = (llama, export(llama, (ids,), folder / "llama.pt2"), (ids,))
    torch.manual_seed(2)
    poisoned, x = Poisoned(), torch.randn(3, 8)
    made["poisoned"] = (poisoned, export(poisoned, (x,), folder / "poisoned.pt2"), (x,))
    torch.manual_seed(3)
    mlp, x = MLP().double(), torch.randn(4, 5, dtype=torch.float64)
    made["mlp"] = (mlp, export(mlp, (x,), folder / "mlp.pt2"), (x,))
    return made


def opened(path: Path) -> tuple[Any, Any]:
    model = netray.load_model(path)
    return model, netray.plugins.get_manager().runtime(model)


def feed(model: Any, example: tuple[Any, ...]) -> dict[str, np.ndarray]:
    return {v.name: t.numpy() for v, t in zip(model.main.inputs, example, strict=True)}


def collect(runtime: Any, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    captured: dict[str, np.ndarray] = {}
    order: list[str] = []

    def capture(name: str, array: np.ndarray) -> None:
        assert name not in captured, f"{name} captured twice"
        captured[name] = np.array(array, copy=True)
        order.append(name)

    outputs = runtime.forward(inputs, capture, lambda: False)
    return outputs, captured, order


def node_values(program: Any, args: list[Any]) -> dict[str, Any]:
    """Every node's value as the FX graph's own generated code computes it: the lifted graph
    copied with all its call_function nodes made outputs, run as a GraphModule (no interpreter)."""
    graph = torch.fx.Graph()
    env: dict[Any, Any] = {}
    for node in program.graph_module.graph.nodes:
        if node.op == "output":
            continue
        env[node] = graph.node_copy(node, lambda n: env[n])
    wanted = [n for n in program.graph_module.graph.nodes if n.op == "call_function"]
    graph.output(tuple(env[n] for n in wanted))
    module = torch.fx.GraphModule(program.graph_module, graph)
    with torch.no_grad():
        values = module(*args)
    return {n.name: v for n, v in zip(wanted, values, strict=True)}


def lifted_arguments(program: Any, example: tuple[Any, ...]) -> list[Any]:
    from torch.export.graph_signature import InputKind

    state = {**dict(program.state_dict), **dict(program.constants)}
    users = iter(example)
    return [next(users) if s.kind == InputKind.USER_INPUT else state[s.target] for s in program.graph_signature.input_specs]


def test_the_plugin_offers_torch_for_pt2_files(programs: Any) -> None:
    _, path, _ = programs["gpt"]
    model, runtime = opened(path)
    assert isinstance(runtime, Runtime)
    assert runtime.backward_supported and "FX interpreter" in runtime.name
    assert isinstance(netray.plugins.get_manager().runtime(model, "torch"), Runtime)
    with pytest.raises(RunError):
        netray.plugins.get_manager().runtime(model, "reference")


def test_without_torch_the_plugin_says_what_to_install(programs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from netray_pytorch import plugin

    model = netray.load_model(programs["gpt"][1])
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    answer = plugin.netray_runtime(model, "")
    assert answer == RuntimeMissing(runtime="torch", install="pip install netray-plugin-pytorch[run]")


@pytest.mark.parametrize("name", ["gpt", "llama"])
def test_outputs_equal_the_exported_module_bit_for_bit(programs: Any, name: str) -> None:
    _, path, example = programs[name]
    model, runtime = opened(path)
    outputs, _, _ = collect(runtime, feed(model, example))
    plain = torch.export.load(str(path)).module()(*example)
    plain = plain if isinstance(plain, tuple) else (plain,)
    assert list(outputs) == [v.name for v in model.main.outputs]
    for array, expected in zip(outputs.values(), plain, strict=True):
        assert array.dtype == expected.detach().numpy().dtype
        assert np.array_equal(array, expected.detach().numpy())


@pytest.mark.parametrize("name", ["gpt", "llama"])
def test_every_value_the_ir_names_is_captured_as_the_graph_computes_it(programs: Any, name: str) -> None:
    _, path, example = programs[name]
    model, runtime = opened(path)
    outputs, captured, _ = collect(runtime, feed(model, example))
    named = {v.name for node in model.main.nodes for v in node.output_values()}
    assert set(captured) == named  # no more, no fewer; graph inputs and weights are not values
    program = torch.export.load(str(path))
    reference = node_values(program, lifted_arguments(program, example))
    compared = 0
    for value_name, array in captured.items():
        expected = reference[value_name]
        if isinstance(expected, torch.Tensor):
            assert array.dtype == expected.numpy().dtype, value_name
            assert np.array_equal(array, expected.numpy(), equal_nan=True), value_name
            compared += 1
    assert compared >= len(named) - 2  # (sym ints, if any, are plain ints)
    for output_name, array in outputs.items():
        assert np.array_equal(array, captured[output_name])
    if name == "gpt":
        split = next(n for n in model.main.nodes if n.op == "split")
        assert [v.name for v in split.output_values()] == ["getitem", "getitem_1", "getitem_2"]


def test_first_nan_is_captured_at_the_log_of_a_negative_constant(programs: Any) -> None:
    _, path, example = programs["poisoned"]
    model, runtime = opened(path)
    _, captured, order = collect(runtime, feed(model, example))
    first = next(name for name in order if not np.all(np.isfinite(captured[name])))
    producer = model.main.values[first].producer
    assert producer is not None and producer.op == "log"
    assert all(np.all(np.isfinite(captured[n])) for n in order[: order.index(first)])
    assert np.isnan(captured[first]).all()


def _reference_gradients(module: Any, example: tuple[Any, ...], target: Any = None) -> tuple[dict[str, Any], Any]:
    module.zero_grad()
    out = module(*example)
    outs = out if isinstance(out, tuple) else (out,)
    if target is None:
        loss = sum(o.double().sum() for o in outs)
    else:
        loss = sum(((o.double() - torch.from_numpy(t).double()) ** 2).sum() for o, t in zip(outs, target, strict=True))
    loss.backward()
    return {n: p.grad.detach().clone() for n, p in module.named_parameters()}, outs


def _by_fqn(model: Any, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The runtime's gradients are keyed by the IR's weight value names (p_fc1_weight); the module's by fqn."""
    return {model.main.values[name].initializer.name: array for name, array in grads.items()}


@pytest.mark.parametrize("name", ["gpt", "llama"])
def test_gradients_equal_autograd_on_the_original_module(programs: Any, name: str) -> None:
    module, path, example = programs[name]
    model, runtime = opened(path)
    value_grads: dict[str, np.ndarray] = {}
    grads = runtime.backward(feed(model, example), None, value_grads.__setitem__, lambda: False)
    reference, _ = _reference_gradients(module, example)
    by_fqn = _by_fqn(model, grads)
    assert set(by_fqn) == set(reference)
    for fqn, expected in reference.items():
        np.testing.assert_allclose(by_fqn[fqn], expected.numpy(), rtol=1e-6, atol=1e-7, err_msg=fqn)
    consumed = {v.name for node in model.main.nodes for v in node.input_values()}
    for output in model.main.outputs:  # d(sum)/d(output) is one everywhere, unless the output is used further
        if output.name in consumed:
            continue
        assert np.array_equal(value_grads[output.name], np.ones_like(value_grads[output.name]))
    floating = {n for n, a in collect(runtime, feed(model, example))[1].items() if a.dtype.kind == "f"}
    assert floating <= set(value_grads)  # every floating value gets its gradient (zeros where it does not reach the loss)
    if name == "llama":  # the rotary angles depend on no weight, yet the loss depends on them
        assert np.abs(value_grads["cos"]).max() > 0


def test_gradients_equal_finite_differences_on_a_float64_mlp(programs: Any) -> None:
    module, path, example = programs["mlp"]
    model, runtime = opened(path)
    target = np.random.default_rng(0).standard_normal((4, 3))
    value_grads: dict[str, np.ndarray] = {}
    grads = _by_fqn(model, runtime.backward(feed(model, example), {model.main.outputs[0].name: target}, value_grads.__setitem__, lambda: False))

    def loss() -> float:
        with torch.no_grad():
            return float(((module(*example) - torch.from_numpy(target)) ** 2).sum())

    eps = 1e-6
    for fqn, parameter in module.named_parameters():
        numeric = np.zeros(tuple(parameter.shape))
        flat = parameter.data.view(-1)
        for i in range(flat.numel()):
            keep = float(flat[i])
            flat[i] = keep + eps
            up = loss()
            flat[i] = keep - eps
            down = loss()
            flat[i] = keep
            numeric.reshape(-1)[i] = (up - down) / (2 * eps)
        error = np.abs(grads[fqn] - numeric).max() / max(np.abs(numeric).max(), 1e-12)
        assert error < 1e-3, (fqn, error)
    # the gradient at an intermediate value too: fc1's output, against finite differences through the rest
    (x,) = example
    with torch.no_grad():
        h = module.fc1(x)
    name = next(next(n for n in model.main.nodes if n.op == "linear").output_values()).name

    def rest(hidden: Any) -> float:
        with torch.no_grad():
            return float(((module.fc2(torch.tanh(hidden)) - torch.from_numpy(target)) ** 2).sum())

    numeric = np.zeros(tuple(h.shape))
    for i in range(h.numel()):
        bumped = h.clone().view(-1)
        bumped[i] += eps
        up = rest(bumped.view(h.shape))
        bumped[i] -= 2 * eps
        numeric.reshape(-1)[i] = (up - rest(bumped.view(h.shape))) / (2 * eps)
    assert np.abs(value_grads[name] - numeric).max() / np.abs(numeric).max() < 1e-3


def test_cancel_stops_between_nodes(programs: Any) -> None:
    _, path, example = programs["gpt"]
    model, runtime = opened(path)
    polls = iter(range(1000))
    seen: list[str] = []
    with pytest.raises(RunCancelled):
        runtime.forward(feed(model, example), lambda n, a: seen.append(n), lambda: next(polls) >= 40)
    assert 0 < len(seen) < len(model.main.nodes)


def test_a_missing_input_is_one_readable_line(programs: Any) -> None:
    _, path, _ = programs["gpt"]
    _, runtime = opened(path)
    with pytest.raises(RunError, match="input 'idx' was not given"):
        runtime.forward({}, lambda n, a: None, lambda: False)


def _rewritten(source: Path, folder: Path, change: Any) -> Path:
    """A copy of a .pt2 whose model JSON ``change`` edits (what a hostile file could say)."""
    out = folder / f"edited_{source.name}"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename.endswith("/models/model.json"):
                program = json.loads(data)
                change(program)
                data = json.dumps(program).encode()
            new.writestr(info, data)
    return out


def test_a_node_calling_a_torch_function_that_is_no_operator_is_refused(programs: Any, tmp_path: Path) -> None:
    from netray_pytorch.run_exported import check_archive

    def hub(program: dict[str, Any]) -> None:
        program["graph_module"]["graph"]["nodes"][0]["target"] = "torch.hub.load"

    with pytest.raises(RunError, match="not an operator"):
        check_archive(_rewritten(programs["gpt"][1], tmp_path, hub))


def test_a_symbolic_expression_that_is_not_arithmetic_is_refused(programs: Any, tmp_path: Path) -> None:
    from netray_pytorch.run_exported import check_archive

    def code(program: dict[str, Any]) -> None:
        program["range_constraints"] = {"exec(chr(49))": {"min_val": 0, "max_val": 1}}

    with pytest.raises(RunError, match="exec"):
        check_archive(_rewritten(programs["gpt"][1], tmp_path, code))
    check_archive(programs["llama"][1])  # the real exports pass


def test_an_in_memory_module_runs_on_its_own_program(programs: Any) -> None:
    """netray.load_model(module, example_inputs=...) keeps the live program: the run (no file) captures what
    the saved file's run captures, its outputs are the module's, its gradients autograd's on the module."""
    from netray.run import run_model

    module, path, example = programs["gpt"]
    model = netray.load_model(module, example_inputs=example)
    assert model.source is None
    runtime = netray.plugins.get_manager().runtime(model)
    outputs, captured, order = collect(runtime, feed(model, example))
    _, from_file = opened(path)
    file_outputs, file_captured, file_order = collect(from_file, feed(model, example))
    assert all(np.array_equal(outputs[n], file_outputs[n]) for n in file_outputs)
    assert order == file_order and all(np.array_equal(captured[n], file_captured[n]) for n in order)
    with torch.no_grad():
        expected = module(*example)
    assert np.array_equal(next(iter(outputs.values())), expected.numpy())
    grads = runtime.backward(feed(model, example), None, lambda name, array: None, lambda: False)
    reference, _ = _reference_gradients(module, example)
    for fqn, wanted in reference.items():
        np.testing.assert_allclose(_by_fqn(model, grads)[fqn], wanted.numpy(), rtol=1e-6, atol=1e-7, err_msg=fqn)
    result = run_model(model, inputs=None, seed=0)  # the engine's own path, random token ids
    assert result.runtime == runtime.name and len(result.values) == len(captured)


def test_a_model_with_neither_file_nor_program_cannot_run(programs: Any) -> None:
    from netray_pytorch.run_exported import runtime_for

    model = netray.load_model(programs["gpt"][1])
    model.source = None  # as a Model built by hand, or whose program is gone
    with pytest.raises(RunError, match="neither a file nor a live ExportedProgram"):
        runtime_for(model)
