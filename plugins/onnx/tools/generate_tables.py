"""Write the ONNX plugin's generated modules from the installed onnx package.

    .venv/bin/python plugins/onnx/tools/generate_tables.py

Reading a binary .onnx file needs neither ``import onnx`` (~40 ms) nor its C++ schema
registry (~11 ms more on the first ``onnx.defs.get_schema``), so the plugin carries
two generated, committed modules (as Netron ships its own ONNX proto and metadata):

- ``netray_onnx/generated_proto.py``: ONNX's serialized FileDescriptorProto
  (``onnx.onnx_ml_pb2.DESCRIPTOR.serialized_pb``), from which ``netray_onnx/proto.py``
  builds the message classes in a private protobuf DescriptorPool;
- ``netray_onnx/generated_schemas.py``: the formal input and output names of every
  operator schema in ``onnx.defs.get_all_schemas_with_history()``, which
  ``netray_onnx/schemas.py`` looks up instead of ``onnx.defs.get_schema``.

Re-run it whenever the onnx pinned in tests/requirements.txt changes (after installing
it in the venv), and commit both files: tests/test_onnx_tables.py fails while they
differ from what the installed onnx generates. ``--check`` only compares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "netray_onnx"
PROTO_MODULE = PACKAGE / "generated_proto.py"
SCHEMAS_MODULE = PACKAGE / "generated_schemas.py"
GENERATOR = "plugins/onnx/tools/generate_tables.py"
# Characters the compact port encoding of generated_schemas.py uses as separators.
_SEPARATORS = frozenset(",:;*")

# One schema's ports: (since_version, input names, last input variadic, output names, last output variadic).
Entry = tuple[int, tuple[str, ...], bool, tuple[str, ...], bool]


def onnx_version() -> str:
    import onnx

    return str(onnx.__version__)


def descriptor_bytes() -> bytes:
    """ONNX's FileDescriptorProto (onnx-ml.proto, no dependencies), serialized."""
    from onnx import onnx_ml_pb2

    descriptor = onnx_ml_pb2.DESCRIPTOR
    if list(descriptor.dependencies):
        raise SystemExit(f"{descriptor.name} now imports other .proto files; proto.py must add them to its pool")
    return bytes(descriptor.serialized_pb)


def port_table() -> dict[tuple[str, str], list[Entry]]:
    """(domain, op_type) -> every version's formal ports, sorted by since_version."""
    from onnx import defs

    variadic = defs.OpSchema.FormalParameterOption.Variadic
    table: dict[tuple[str, str], list[Entry]] = {}
    for schema in defs.get_all_schemas_with_history():
        inputs, outputs = list(schema.inputs), list(schema.outputs)
        entry = (
            int(schema.since_version),
            tuple(p.name for p in inputs),
            bool(inputs) and inputs[-1].option == variadic,
            tuple(p.name for p in outputs),
            bool(outputs) and outputs[-1].option == variadic,
        )
        table.setdefault((schema.domain, schema.name), []).append(entry)
    for key, entries in table.items():
        entries.sort()
        versions = [e[0] for e in entries]
        if len(set(versions)) != len(versions):
            raise SystemExit(f"{key}: two schemas with the same since_version {versions}")
    return dict(sorted(table.items()))


def max_versions(table: dict[tuple[str, str], list[Entry]]) -> dict[str, int]:
    """The highest since_version of any schema, per domain."""
    latest: dict[str, int] = {}
    for (domain, _), entries in table.items():
        latest[domain] = max(latest.get(domain, 0), entries[-1][0])
    return dict(sorted(latest.items()))


def _quoted(text: str) -> str:
    """A double-quoted literal of a domain or op name (names with quotes or backslashes are refused)."""
    if '"' in text or "\\" in text or not text.isprintable():
        raise SystemExit(f"name {text!r} cannot be written as a plain literal")
    return f'"{text}"'


def _names(names: tuple[str, ...], variadic: bool) -> str:
    for name in names:
        if not name or _SEPARATORS & set(name):
            raise SystemExit(f"port name {name!r} cannot be written in the compact encoding")
    return ",".join(names) + ("*" if variadic else "")


def encode(entries: list[Entry]) -> str:
    """``"1,6,13:X:Y"``: consecutive versions with the same ports share one group; groups joined by ``;``."""
    groups: list[tuple[list[int], str]] = []
    for since, inputs, in_variadic, outputs, out_variadic in entries:
        ports = f"{_names(inputs, in_variadic)}:{_names(outputs, out_variadic)}"
        if groups and groups[-1][1] == ports:
            groups[-1][0].append(since)
        else:
            groups.append(([since], ports))
    return ";".join(",".join(map(str, versions)) + ":" + ports for versions, ports in groups)


def _header(version: str, what: str) -> str:
    return f'"""{what}\n\nGenerated from onnx {version} by {GENERATOR}: generated, do not edit.\n'


def proto_source() -> str:
    version = onnx_version()
    data = descriptor_bytes()
    lines = [
        _header(version, "ONNX's FileDescriptorProto (onnx/onnx-ml.proto), serialized; proto.py builds the messages."),
        "The bytes of ``onnx.onnx_ml_pb2.DESCRIPTOR.serialized_pb``.",
        '"""',
        "",
        f'ONNX_VERSION = "{version}"',
        "FILE_DESCRIPTOR = (",
    ]
    lines += [f"    {data[i : i + 80]!r}" for i in range(0, len(data), 80)]
    lines.append(")")
    return "\n".join(lines) + "\n"


def schemas_source() -> str:
    version = onnx_version()
    table = port_table()
    lines = [
        _header(version, "Formal input and output ports of every ONNX operator schema; schemas.py looks them up."),
        "``PORTS[domain][op_type]`` is a string of groups joined by ``;``, each ``versions:inputs:outputs``:",
        "the since_versions (ascending) that have the same ports, then the formal input and output",
        'names, comma-separated; a trailing ``*`` marks a variadic last port. ``"1,6,13:X:Y"`` means',
        "versions 1, 6 and 13 each take one input ``X`` and give one output ``Y``.",
        "",
        "``MAX_VERSION`` is the highest since_version per domain: a model declaring a higher opset",
        "was made by a newer ONNX than this table.",
        '"""',
        "",
        f'ONNX_VERSION = "{version}"',
        "MAX_VERSION = {",
    ]
    lines += [f"    {_quoted(domain)}: {latest}," for domain, latest in max_versions(table).items()]
    lines.append("}")
    lines.append("PORTS = {")
    domain_open = None
    for (domain, op), entries in table.items():
        if domain != domain_open:
            if domain_open is not None:
                lines.append("    },")
            lines.append(f"    {_quoted(domain)}: {{")
            domain_open = domain
        lines.append(f"        {_quoted(op)}: {_quoted(encode(entries))},")
    if domain_open is not None:
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the files are up to date")
    args = parser.parse_args()
    stale = []
    for path, source in ((PROTO_MODULE, proto_source()), (SCHEMAS_MODULE, schemas_source())):
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == source:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(source, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        print("out of date: " + ", ".join(str(p) for p in stale), file=sys.stderr)
        return 1
    if not stale:
        print(f"up to date with onnx {onnx_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
