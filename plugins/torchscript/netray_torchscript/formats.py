"""The format the TorchScript plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "PyTorch TorchScript"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".pt", ".pth", ".jit", ".ptl", ".torchscript"),
        "torch.jit.save archive (needs torch)",
        contains=("code/", "constants.pkl"),
    )
]
