"""The formats the PyTorch plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

EXPORTED_PROGRAM = "PyTorch ExportedProgram"
STATE_DICT = "PyTorch state_dict"

FORMATS = [
    FormatInfo(
        EXPORTED_PROGRAM,
        (".pt2",),
        "torch.export archive with a serialized JSON graph",
        contains=("serialized_exported_program.json", "models/"),
    ),
    FormatInfo(
        STATE_DICT,
        (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".tar"),
        "torch.save state_dict or checkpoint (zip or legacy)",
        # torch.save's legacy (pre-zip) files open with a pickled magic number.
        magic=(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19",),
        contains=("data.pkl",),
    ),
]
