"""Build docs/sample/netray-sample.onnx, the model `make demo` opens.

A small vision transformer with random weights (fixed seed): a convolutional stem,
patch tokens, two transformer encoder blocks and a classifier head. Exported with
torch's default exporter (torch.export + onnxscript), which records each node's
module scope and source line, so the viewer shows real structure.

    .venv/bin/python docs/sample/make_sample.py
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

OUTPUT = Path(__file__).with_name("netray-sample.onnx")


class ConvStem(nn.Module):
    """Two strided convolutions: 3x64x64 image -> 32 channels at 16x16."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(x)))


class Block(nn.Module):
    """Pre-norm transformer encoder block: attention, then an MLP, each with a residual."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class SampleNet(nn.Module):
    def __init__(self, classes: int = 10, dim: int = 64) -> None:
        super().__init__()
        self.stem = ConvStem()
        self.patch = nn.Conv2d(32, dim, 4, stride=4)  # 16x16 -> 4x4 = 16 tokens
        self.position = nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, 4) for _ in range(2)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.patch(self.stem(image))
        x = x.flatten(2).transpose(1, 2) + self.position
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(dim=1)).softmax(dim=-1)


def main() -> None:
    torch.manual_seed(0)
    model = SampleNet().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(1, 3, 64, 64),),
            str(OUTPUT),
            input_names=["image"],
            output_names=["probabilities"],
            dynamo=True,
            external_data=False,  # one self-contained file
        )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
