"""Running TorchScript archives (contract 1.2): torch's own interpreter, every value of the
inlined main graph captured.

A scripted and a traced GPT-style module (seeded random weights) are saved and run: outputs
equal the module's own bit for bit, and every captured value equals what the same inlined
graph returns when all its values are made outputs (the ONNX-style check). A NaN from the
log of a negative constant is captured first at that node. Gradients equal autograd on the
original ``nn.Module`` and finite differences on a float64 MLP. The real Silero files run
forward and capture, and backward.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import netray
from netray.runtime import RunCancelled, RunError, Runtime, RuntimeMissing

torch = pytest.importorskip("torch", reason="running TorchScript needs torch")
F = torch.nn.functional


class Attention(torch.nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.ln2 = torch.nn.LayerNorm(d)
        self.fc = torch.nn.Linear(d, 4 * d)
        self.out = torch.nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape[0], x.shape[1], x.shape[2]
        h = c // self.heads
        qkv = self.qkv(self.ln1(x)).split(c, dim=-1)
        q = qkv[0].view(b, t, self.heads, h).transpose(1, 2)
        k = qkv[1].view(b, t, self.heads, h).transpose(1, 2)
        v = qkv[2].view(b, t, self.heads, h).transpose(1, 2)
        attention = (q @ k.transpose(-2, -1)) / math.sqrt(float(h))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        attention = attention.masked_fill(~mask, float("-inf")).softmax(-1)
        x = x + self.proj((attention @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class TinyGPT(torch.nn.Module):
    def __init__(self, vocab: int = 30, d: int = 16) -> None:
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        self.wpe = torch.nn.Embedding(16, d)
        self.block0 = Attention(d, 2)
        self.block1 = Attention(d, 2)
        self.ln = torch.nn.LayerNorm(d)
        self.head = torch.nn.Linear(d, vocab, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        return self.head(self.ln(self.block1(self.block0(x))))


class Poisoned(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(6, 6)
        self.b = torch.nn.Linear(6, 3)
        self.register_buffer("negative", torch.tensor(-3.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.a(x))
        return self.b(h * torch.log(self.negative))


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 6)
        self.fc2 = torch.nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path, tuple[Any, ...]]]:
    """name -> (original nn.Module, saved TorchScript file, example inputs)."""
    folder = tmp_path_factory.mktemp("torchscript")
    made: dict[str, tuple[Any, Path, tuple[Any, ...]]] = {}
    torch.manual_seed(0)
    gpt, ids = TinyGPT().eval(), torch.randint(0, 30, (2, 7))
    torch.jit.save(torch.jit.script(gpt), str(folder / "scripted.pt"))
    made["scripted"] = (gpt, folder / "scripted.pt", (ids,))
    with torch.no_grad():
        torch.jit.save(torch.jit.trace(gpt, (ids,)), str(folder / "traced.pt"))
    made["traced"] = (gpt, folder / "traced.pt", (ids,))
    torch.manual_seed(1)
    poisoned, x = Poisoned().eval(), torch.randn(3, 6)
    torch.jit.save(torch.jit.script(poisoned), str(folder / "poisoned.pt"))
    made["poisoned"] = (poisoned, folder / "poisoned.pt", (x,))
    torch.manual_seed(2)
    mlp, x = MLP().double(), torch.randn(5, 4, dtype=torch.float64)
    torch.jit.save(torch.jit.script(mlp), str(folder / "mlp.pt"))
    made["mlp"] = (mlp, folder / "mlp.pt", (x,))
    return made


def opened(path: Path) -> tuple[Any, Any]:
    model = netray.load_model(path)
    return model, netray.plugins.get_manager().runtime(model)


def feed(model: Any, example: tuple[Any, ...]) -> dict[str, np.ndarray]:
    return {v.name: np.asarray(t.numpy() if isinstance(t, torch.Tensor) else t) for v, t in zip(model.main.inputs, example, strict=True)}


def collect(runtime: Any, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    captured: dict[str, np.ndarray] = {}
    order: list[str] = []

    def capture(name: str, array: np.ndarray) -> None:
        assert name not in captured, f"{name} captured twice"
        captured[name] = np.array(array, copy=True)
        order.append(name)

    return runtime.forward(inputs, capture, lambda: False), captured, order


def every_value(path: Path, example: tuple[Any, ...], names: set[str]) -> dict[str, Any]:
    """The runtime's own value of each named tensor: the same inlined graph with all of them
    made outputs (a tuple), run by TorchScript's interpreter without any capture operator."""
    module = torch.jit.load(str(path), map_location="cpu")
    graph = module._c._get_method("forward").graph.copy()
    torch._C._jit_pass_inline(graph)
    wanted = [o for n in graph.nodes() for o in n.outputs() if o.debugName() in names and o.type().kind() == "TensorType"]
    pack = graph.create("prim::TupleConstruct", wanted, 1)
    graph.appendNode(pack)
    pack.output().setType(torch._C.TupleType([o.type() for o in wanted]))
    graph.eraseOutput(0)
    graph.registerOutput(pack.output())
    function = torch._C._create_function_from_graph("every_value", graph)
    with torch.no_grad():
        values = function(module._c, *example)
    return {o.debugName(): v for o, v in zip(wanted, values, strict=True)}


def test_the_plugin_offers_torch_for_torchscript_files(saved: Any) -> None:
    model, runtime = opened(saved["scripted"][1])
    assert isinstance(runtime, Runtime) and runtime.backward_supported
    assert "TorchScript" in runtime.name and "If/Loop" in runtime.granularity
    with pytest.raises(RunError):
        netray.plugins.get_manager().runtime(model, "reference")


def test_without_torch_the_plugin_says_what_to_install(saved: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from netray_torchscript import plugin

    model = netray.load_model(saved["scripted"][1])
    monkeypatch.setitem(sys.modules, "torch", None)
    answer = plugin.netray_runtime(model, "")
    assert answer == RuntimeMissing(runtime="torch", install="pip install netray-plugin-torchscript[run]")


@pytest.mark.parametrize("name", ["scripted", "traced"])
def test_outputs_and_every_value_equal_the_runtimes_own(saved: Any, name: str) -> None:
    original, path, example = saved[name]
    model, runtime = opened(path)
    outputs, captured, _ = collect(runtime, feed(model, example))
    plain = torch.jit.load(str(path), map_location="cpu")(*example).detach().numpy()
    (output,) = outputs.values()
    assert output.dtype == plain.dtype and np.array_equal(output, plain)
    assert np.array_equal(output, original(*example).detach().numpy())  # eager agrees too, on these ops
    named = {v.name for node in model.main.nodes for v in node.output_values()}
    assert set(captured) <= named
    uncaptured = {v.name: str(v.type.dtype) for node in model.main.nodes for v in node.output_values() if v.name not in captured}
    assert all(t.startswith(("List[Tensor]", "Tuple")) for t in uncaptured.values()), uncaptured
    reference = every_value(path, example, named)
    tensors = {v.name for node in model.main.nodes for v in node.output_values() if v.name in reference}
    assert tensors <= set(captured) and len(reference) > 40
    for value_name, expected in reference.items():
        assert np.array_equal(captured[value_name], expected.numpy()), value_name
    # module outputs by scope: each block's residual output is captured, equal to eager's
    block_outputs: dict[str, np.ndarray] = {}
    hooks = [getattr(original, b).register_forward_hook(lambda m, a, out, b=b: block_outputs.__setitem__(b, out.detach().numpy()))
             for b in ("block0", "block1")]
    try:
        original(*example)
    finally:
        for hook in hooks:
            hook.remove()
    for block, expected in block_outputs.items():
        assert any(a.shape == expected.shape and np.array_equal(a, expected) for a in captured.values()), block


def test_first_nan_is_captured_at_the_log_of_a_negative_constant(saved: Any) -> None:
    _, path, example = saved["poisoned"]
    model, runtime = opened(path)
    _, captured, order = collect(runtime, feed(model, example))
    first = next(n for n in order if captured[n].dtype.kind == "f" and not np.all(np.isfinite(captured[n])))
    assert model.main.values[first].producer.op == "log"
    assert all(np.all(np.isfinite(captured[n])) for n in order[: order.index(first)] if captured[n].dtype.kind == "f")


@pytest.mark.parametrize("name", ["scripted", "traced"])
def test_gradients_equal_autograd_on_the_original_module(saved: Any, name: str) -> None:
    original, path, example = saved[name]
    model, runtime = opened(path)
    value_grads: dict[str, np.ndarray] = {}
    grads = runtime.backward(feed(model, example), None, value_grads.__setitem__, lambda: False)
    original.zero_grad()
    original(*example).double().sum().backward()
    reference = {n: p.grad.numpy() for n, p in original.named_parameters()}
    assert set(grads) == set(reference)
    for weight, expected in reference.items():
        np.testing.assert_allclose(grads[weight], expected, rtol=1e-6, atol=1e-7, err_msg=weight)
    (output,) = model.main.outputs
    assert np.array_equal(value_grads[output.name], np.ones_like(value_grads[output.name]))
    assert len(value_grads) > 40


def test_gradients_equal_finite_differences_on_a_float64_mlp(saved: Any) -> None:
    original, path, example = saved["mlp"]
    model, runtime = opened(path)
    target = np.random.default_rng(1).standard_normal((5, 2))
    grads = runtime.backward(feed(model, example), {model.main.outputs[0].name: target}, lambda n, a: None, lambda: False)

    def loss() -> float:
        with torch.no_grad():
            return float(((original(*example) - torch.from_numpy(target)) ** 2).sum())

    eps = 1e-6
    for weight, parameter in original.named_parameters():
        flat = parameter.data.view(-1)
        numeric = np.zeros(flat.numel())
        for i in range(flat.numel()):
            keep = float(flat[i])
            flat[i] = keep + eps
            up = loss()
            flat[i] = keep - eps
            numeric[i] = (up - loss()) / (2 * eps)
            flat[i] = keep
        error = np.abs(grads[weight].reshape(-1) - numeric).max() / np.abs(numeric).max()
        assert error < 1e-3, (weight, error)


def test_cancel_stops_the_run(saved: Any) -> None:
    _, path, example = saved["scripted"]
    model, runtime = opened(path)
    polls = iter(range(1000))
    seen: list[str] = []
    with pytest.raises(RunCancelled):
        runtime.forward(feed(model, example), lambda n, a: seen.append(n), lambda: next(polls) >= 10)
    assert 0 < len(seen) < 20


SILERO = {
    "silero_vad_v4.jit": ((1, 512), 16000),
    "silero_vad_v3.jit": ((1, 1536), 16000),
    "silero_model_micro_mobile.jit": ((1, 4000), None),
    "silero_model_micro.jit": ((1, 4000), None),
    "silero_number_detector.jit": ((1, 4000), None),
}


@pytest.mark.parametrize("file", sorted(SILERO))
def test_real_silero_files_run_forward_and_capture(shared_models: Path, file: str) -> None:
    path = shared_models / "torchscript" / "silero_vad" / file
    shape, rate = SILERO[file]
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, shape).astype(np.float32)
    model, runtime = opened(path)
    inputs = {model.main.inputs[0].name: audio}
    if rate is not None:
        inputs[model.main.inputs[1].name] = np.asarray(rate)  # forward(x, sr: int)
    outputs, captured, _ = collect(runtime, inputs)
    named = {v.name for node in model.main.nodes for v in node.output_values()}
    assert captured and set(captured) <= named
    for name, array in outputs.items():
        assert np.all(np.isfinite(array)) and np.array_equal(array, captured[name])
    if "stft" in " ".join(n.op for n in model.main.nodes):
        # written for torch < 2.0: stft without return_complex, which torch refuses now
        assert "stft" in runtime.compatibility
        assert len(captured) > 100
    else:
        module = torch.jit.load(str(path), map_location="cpu")
        plain = module(torch.from_numpy(audio), *(() if rate is None else (rate,)))
        (output,) = outputs.values()
        assert np.array_equal(output, plain.detach().numpy())
        again, _, _ = collect(runtime, inputs)  # a stateful forward (v3, v4) starts from the file's state each run
        assert all(np.array_equal(again[k], outputs[k]) for k in outputs)


def test_real_silero_vad_backward(shared_models: Path) -> None:
    path = shared_models / "torchscript" / "silero_vad" / "silero_vad_v4.jit"
    model, runtime = opened(path)
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 512)).astype(np.float32)
    inputs = {model.main.inputs[0].name: audio, model.main.inputs[1].name: np.asarray(16000)}
    value_grads: dict[str, np.ndarray] = {}
    grads = runtime.backward(inputs, None, value_grads.__setitem__, lambda: False)
    assert grads and all(np.all(np.isfinite(g)) for g in grads.values())
    assert any(np.abs(g).max() > 0 for g in grads.values())
    assert value_grads
