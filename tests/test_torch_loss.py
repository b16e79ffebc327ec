"""The one loss every torch-differentiating runtime uses (ExportedProgram, TorchScript, Keras, ONNX via onnx2torch)."""

from __future__ import annotations

import numpy as np
import pytest

from netray.errors import RunError
from netray.torch_loss import torch_loss

torch = pytest.importorskip("torch")


def test_the_sum_of_floating_outputs_gives_each_a_gradient_of_one() -> None:
    w = torch.tensor([1.5, -2.0], dtype=torch.float32, requires_grad=True)
    z = torch.tensor([3.0 + 4.0j], requires_grad=True)
    outputs = {"y": w * 2, "ids": torch.tensor([1, 2]), "z": z * 1, "constant": torch.ones(2)}
    loss = torch_loss(outputs, None, "test")
    assert loss.dtype == torch.float64 and float(loss) == pytest.approx(-1.0 + 5.0)  # |3+4j| = 5
    loss.backward()
    assert w.grad.tolist() == [2.0, 2.0] and w.grad.dtype == torch.float32


def test_a_target_counts_the_outputs_it_names_as_squared_error() -> None:
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    outputs = {"a": w * 1, "b": w * 10}
    loss = torch_loss(outputs, {"a": np.array([0.0, 4.0])}, "test")
    assert float(loss) == 1.0 + 4.0  # "b" is not in the target: left out
    loss.backward()
    assert w.grad.tolist() == [2.0, -4.0]  # 2 * (output - target)
    with pytest.raises(RunError, match=r"^test: target 'a' has shape \(3,\), the output \(2,\)$"):
        torch_loss(outputs, {"a": np.zeros(3)}, "test")


def test_nothing_to_differentiate_is_a_run_error() -> None:
    with pytest.raises(RunError, match=r"^keras: no floating-point output among the outputs depends on a weight or input"):
        torch_loss({"y": torch.ones(2), "ids": torch.tensor([1])}, None, "keras")
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(RunError, match="among the target's outputs"):
        torch_loss({"y": w * 1}, {"other": np.zeros(2)}, "onnxruntime")
