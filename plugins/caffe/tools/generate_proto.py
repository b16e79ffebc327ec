"""Write ``netray_caffe/generated_proto.py``: Caffe's ``caffe.proto`` as a serialized FileDescriptorProto.

    .venv/bin/python plugins/caffe/tools/generate_proto.py PATH/TO/caffe.proto [--check]

The plugin reads ``.prototxt`` and ``.caffemodel`` files with message classes built at run
time from that descriptor in a private protobuf ``DescriptorPool`` (``netray_caffe/proto.py``),
so it needs neither protoc nor a compiled ``caffe_pb2`` and never clashes with a user's own.
The descriptor is compiled here once with ``grpc_tools.protoc`` (``pip install grpcio-tools``,
needed only to run this script) from ``src/caffe/proto/caffe.proto`` of BVLC/caffe; the
committed module records the source's SHA-256. ``--check`` compares instead of writing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

MODULE = Path(__file__).resolve().parent.parent / "netray_caffe" / "generated_proto.py"
GENERATOR = "plugins/caffe/tools/generate_proto.py"
SOURCE = "BVLC/caffe src/caffe/proto/caffe.proto"


def compile_descriptor(proto: Path) -> bytes:
    """The FileDescriptorProto of ``proto`` (no source info), serialized, compiled by grpc_tools' protoc."""
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "caffe.desc"
        # The file is added as "caffe.proto" so the descriptor's name does not depend on where it lies.
        status = protoc.main(["protoc", f"-I{proto.parent}", f"--descriptor_set_out={out}", proto.name])
        if status != 0:
            raise SystemExit(f"protoc failed on {proto} (status {status})")
        descriptors = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    (file,) = descriptors.file
    if file.package != "caffe" or list(file.dependency):
        raise SystemExit(
            f"{proto}: expected package 'caffe' with no imports, got {file.package!r} {list(file.dependency)}"
        )
    file.name = "netray_caffe/caffe.proto"  # a name of our own in our own pool
    return file.SerializeToString(deterministic=True)


def module_source(proto: Path) -> str:
    data = compile_descriptor(proto)
    digest = hashlib.sha256(proto.read_bytes()).hexdigest()
    lines = [
        '"""Caffe\'s FileDescriptorProto (caffe.proto), serialized; proto.py builds the messages from it.',
        "",
        f"Compiled from {SOURCE} (sha256 {digest}) by {GENERATOR}: generated, do not edit.",
        '"""',
        "",
        f'SOURCE_SHA256 = "{digest}"',
        "FILE_DESCRIPTOR = (",
    ]
    lines += [f"    {data[i : i + 80]!r}" for i in range(0, len(data), 80)]
    lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("proto", type=Path, help="caffe.proto (BVLC/caffe src/caffe/proto/caffe.proto)")
    parser.add_argument("--check", action="store_true", help="compare with the committed module instead of writing it")
    args = parser.parse_args(argv)
    text = module_source(args.proto)
    if args.check:
        same = MODULE.exists() and MODULE.read_text() == text
        print(f"{MODULE.name}: {'up to date' if same else 'differs from ' + str(args.proto)}")
        return 0 if same else 1
    MODULE.write_text(text)
    print(f"wrote {MODULE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
