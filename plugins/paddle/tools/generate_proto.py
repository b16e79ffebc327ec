"""Write ``netray_paddle/generated_proto.py``: Paddle's ``framework.proto`` as a serialized FileDescriptorProto.

    python plugins/paddle/tools/generate_proto.py --from-paddle        # with paddlepaddle installed
    python plugins/paddle/tools/generate_proto.py PATH/TO/framework.proto   # needs grpcio-tools

The plugin reads ``.pdmodel`` ProgramDescs and the TensorDesc headers of ``.pdiparams`` with
message classes built at run time from that descriptor in a private protobuf
``DescriptorPool`` (``netray_paddle/proto.py``): no protoc, no Paddle, no clash with a
user's own ``framework_pb2``. ``--from-paddle`` takes the descriptor Paddle itself was built
with (``paddle.base.proto.framework_pb2``), the newest superset of the schema (older
files use a subset: renamed fields keep their numbers). ``--check`` compares instead of writing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

MODULE = Path(__file__).resolve().parent.parent / "netray_paddle" / "generated_proto.py"
GENERATOR = "plugins/paddle/tools/generate_proto.py"
OUR_NAME = "netray_paddle/framework.proto"


def from_paddle() -> tuple[bytes, str]:
    import paddle
    from paddle.base.proto import framework_pb2

    return bytes(
        framework_pb2.DESCRIPTOR.serialized_pb
    ), f"paddlepaddle {paddle.__version__} (paddle.base.proto.framework_pb2)"


def from_proto(proto: Path) -> tuple[bytes, str]:
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "framework.desc"
        if protoc.main(["protoc", f"-I{proto.parent}", f"--descriptor_set_out={out}", proto.name]) != 0:
            raise SystemExit(f"protoc failed on {proto}")
        (file,) = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    return file.SerializeToString(
        deterministic=True
    ), f"{proto.name} (sha256 {hashlib.sha256(proto.read_bytes()).hexdigest()})"


def module_source(data: bytes, source: str) -> str:
    from google.protobuf import descriptor_pb2

    file = descriptor_pb2.FileDescriptorProto.FromString(data)
    if file.package != "paddle.framework.proto" or list(file.dependency):
        raise SystemExit(
            f"expected package paddle.framework.proto with no imports, got {file.package!r} {list(file.dependency)}"
        )
    file.name = OUR_NAME  # a name of our own in our own pool
    data = file.SerializeToString(deterministic=True)
    lines = [
        '"""Paddle\'s FileDescriptorProto (framework.proto), serialized; proto.py builds the messages from it.',
        "",
        f"From {source} by {GENERATOR}: generated, do not edit.",
        '"""',
        "",
        f"SOURCE = {source!r}",
        "FILE_DESCRIPTOR = (",
    ]
    lines += [f"    {data[i : i + 80]!r}" for i in range(0, len(data), 80)]
    lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("proto", type=Path, nargs="?", help="framework.proto (paddle/fluid/framework/framework.proto)")
    parser.add_argument("--from-paddle", action="store_true", help="take the descriptor of the installed paddlepaddle")
    parser.add_argument("--check", action="store_true", help="compare with the committed module instead of writing it")
    args = parser.parse_args(argv)
    if args.from_paddle == (args.proto is not None):
        parser.error("give either a framework.proto or --from-paddle")
    text = module_source(*(from_paddle() if args.from_paddle else from_proto(args.proto)))
    if args.check:
        same = MODULE.exists() and MODULE.read_text() == text
        print(f"{MODULE.name}: {'up to date' if same else 'differs'}")
        return 0 if same else 1
    MODULE.write_text(text)
    print(f"wrote {MODULE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
