"""The formats the Paddle plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

PROGRAM = "Paddle"
PIR = "Paddle PIR"
PARAMS = "Paddle parameters"

# A serialized ProgramDesc starts with its first block: idx 0, parent_idx -1 (a 10-byte varint).
PROGRAM_PATTERN = rb"\A\x0a[\x80-\xff]{0,4}[\x00-\x7f]\x08\x00\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"

FORMATS = [
    FormatInfo(
        PROGRAM,
        (".pdmodel", "__model__"),
        "PaddlePaddle inference program (ProgramDesc protobuf) with its .pdiparams (or __params__, or one file per variable) beside it",
        patterns=(PROGRAM_PATTERN,),
        companions=("{stem}.pdiparams", "__params__"),
        runs_with='PaddlePaddle (pip install paddlepaddle)',
    ),
    FormatInfo(
        PIR,
        (".json",),
        "PaddlePaddle 3 PIR program (inference.json, as paddle.jit.save writes it) with its .pdiparams beside it",
        patterns=(rb'\A\s*\{\s*"base_code"\s*:\s*\{',),
        companions=("{stem}.pdiparams",),
        runs_with='PaddlePaddle (pip install paddlepaddle)',
    ),
    FormatInfo(
        PARAMS,
        (".pdiparams", "__params__"),  # per-variable files are found by content
        "PaddlePaddle parameters: serialized tensors (version, LoD, TensorDesc, data) in the order of the program's sorted persistable variables",
        # Opened, a parameters file opens the program beside it that reads it.
        companions=("{stem}.pdmodel", "{stem}.json", "__model__"),
    ),
]
