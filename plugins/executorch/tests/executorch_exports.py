"""Real .pte files for the tests, written by ExecuTorch itself (torch.export -> to_edge -> to_executorch).

Each builder returns the file, the ExecuTorch ``Program`` it serialized (``executorch_program``,
the exporter's own dataclasses, to compare against) and the torch module whose weights went in.
Files are made once per test session in a temporary folder.
"""

from __future__ import annotations

import copy
import functools
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("executorch.exir", reason="the ExecuTorch tests export real programs with executorch (pip install executorch)")

FOLDER = Path(tempfile.mkdtemp(prefix="netray-executorch-"))


@dataclass
class Exported:
    path: Path
    program: Any  # executorch.exir.schema.Program
    module: Any  # torch.nn.Module


class ConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        y = torch.relu(self.conv(x))
        return self.fc(y.mean(dim=(2, 3))) + 1


def _seeded(cls: type, *args: Any) -> Any:
    torch.manual_seed(0)
    return cls(*args).eval()


def _save(name: str, manager: Any, module: Any) -> Exported:
    path = FOLDER / f"{name}.pte"
    path.write_bytes(manager.buffer)
    return Exported(path, manager.executorch_program, module)


def _quiet() -> Any:
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("ignore")
    return context


@functools.cache
def convnet() -> Exported:
    """Conv, relu, mean, linear, +1 on ExecuTorch's portable kernels (constants in the constant segment)."""
    from executorch.exir import to_edge

    module = _seeded(ConvNet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = to_edge(torch.export.export(module, (torch.randn(1, 3, 8, 8),))).to_executorch()
    return _save("convnet", manager, module)


@functools.cache
def convnet_xnnpack() -> Exported:
    """The same network lowered to XNNPACK: two XnnpackBackend delegates, weights in named data."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    module = _seeded(ConvNet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = torch.export.export(module, (torch.randn(1, 3, 8, 8),))
        manager = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()]).to_executorch()
    return _save("convnet_xnnpack", manager, module)


class SmallMLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x: Any) -> Any:
        return self.fc2(torch.relu(self.fc1(x)))


@functools.cache
def mlp_xnnpack_int8() -> Exported:
    """An MLP quantized to int8 with XNNPACK's quantizer (PT2E) and lowered to XNNPACK."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from executorch.exir import to_edge_transform_and_lower
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    module = _seeded(SmallMLP)
    example = (torch.randn(2, 8),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(torch.export.export(module, example).module(), quantizer)
        prepared(*example)
        converted = convert_pt2e(prepared)
        manager = to_edge_transform_and_lower(torch.export.export(converted, example), partitioner=[XnnpackPartitioner()]).to_executorch()
    return _save("mlp_xnnpack_int8", manager, module)


class Counter(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("count", torch.arange(3, dtype=torch.float32))

    def forward(self, x: Any) -> Any:
        self.count.add_(x)
        return self.count * 2


@functools.cache
def mutable_buffer() -> Exported:
    """A buffer the program updates, saved with its initial state (the mutable data segment)."""
    from executorch.exir import ExecutorchBackendConfig, to_edge
    from executorch.exir.passes.init_mutable_pass import InitializedMutableBufferPass

    module = Counter()
    config = ExecutorchBackendConfig(passes=[InitializedMutableBufferPass(["count"])], emit_mutable_buffer_names=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = to_edge(torch.export.export(module, (torch.ones(3),))).to_executorch(config)
    return _save("mutable_buffer", manager, module)


class Branch(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return torch.cond(x.sum() > 0, lambda x: x.sin(), lambda x: x.cos(), (x,))


@functools.cache
def control_flow() -> Exported:
    """torch.cond, which ExecuTorch emits as JumpFalseCall and MoveCall instructions."""
    from executorch.exir import to_edge

    module = Branch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = to_edge(torch.export.export(module, (torch.ones(3),))).to_executorch()
    return _save("control_flow", manager, module)


class Flatten(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x.view(x.shape[0], -1) * 2


@functools.cache
def dynamic_shape() -> Exported:
    """A batch dimension bounded by 16: tensors with dynamic_bound sizes, sym_size and et_view."""
    from executorch.exir import to_edge

    module = Flatten()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exported = torch.export.export(module, (torch.ones(4, 2, 3),), dynamic_shapes={"x": {0: torch.export.Dim("b", max=16)}})
        manager = to_edge(exported).to_executorch()
    return _save("dynamic_shape", manager, module)


class Bf16Linear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 3, dtype=torch.bfloat16)

    def forward(self, x: Any) -> Any:
        return self.fc(x)


class Triple(torch.nn.Module):
    def forward(self, x: Any) -> Any:
        return x * 3


@functools.cache
def two_methods() -> Exported:
    """forward (bfloat16 weights) and triple, constant methods, and stack traces (emit_stacktrace)."""
    from executorch.exir import ExecutorchBackendConfig, to_edge

    module = _seeded(Bf16Linear)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        programs = {
            "triple": torch.export.export(Triple(), (torch.ones(2),)),
            "forward": torch.export.export(module, (torch.ones(1, 3, dtype=torch.bfloat16),)),
        }
        constants = {"get_vocab_size": 512, "get_name": "tiny", "get_scales": [0.5, 0.25], "use_cache": True}
        manager = to_edge(programs, constant_methods=constants).to_executorch(ExecutorchBackendConfig(emit_stacktrace=True))
    return _save("two_methods", manager, module)


class ChannelsLast(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 1)

    def forward(self, x: Any) -> Any:
        return self.conv(x)


@functools.cache
def channels_last() -> Exported:
    """A module in channels-last memory format: its weight is stored in dim order (0, 2, 3, 1)."""
    from executorch.exir import to_edge

    module = _seeded(ChannelsLast).to(memory_format=torch.channels_last)
    example = (torch.randn(1, 2, 4, 4).to(memory_format=torch.channels_last),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = to_edge(torch.export.export(module, example)).to_executorch()
    return _save("channels_last", manager, module)


@functools.cache
def inline_constants() -> Exported:
    """The layout of files written before ExecuTorch 0.4: constants inline in Program.constant_buffer,
    no extended header, no segments; serialized by ExecuTorch's own flatbuffer writer, as then."""
    from executorch.exir import to_edge
    from executorch.exir._serialize._flatbuffer_program import _program_to_flatbuffer

    module = _seeded(torch.nn.Linear, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        manager = to_edge(torch.export.export(module, (torch.ones(1, 2),))).to_executorch()
    program = copy.deepcopy(manager.executorch_program)
    path = FOLDER / "inline_constants.pte"
    path.write_bytes(bytes(_program_to_flatbuffer(program).data))
    return Exported(path, manager.executorch_program, module)


ALL = (convnet, convnet_xnnpack, mlp_xnnpack_int8, mutable_buffer, control_flow, dynamic_shape, two_methods, channels_last, inline_constants)
