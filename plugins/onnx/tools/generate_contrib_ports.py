"""Write ``netray_onnx/generated_contrib_ports.py`` from the installed onnxruntime's operator schemas.

    .venv/bin/pip install onnxruntime   # a test-only dependency; opening files never needs it
    .venv/bin/python plugins/onnx/tools/generate_contrib_ports.py

ONNX Runtime registers operators of its own domains (``com.microsoft``: FusedConv,
FusedGemm, QLinearAdd, Attention, MatMulNBits ...; ``com.microsoft.nchwc`` and
``com.ms.internal.nhwc``: the layout-transformed kernels its optimizers write into
ORT-format and optimized ONNX files). ``onnx.defs`` does not know them, so without this
table their inputs are named by position. The module holds only their formal input and
output names, in the encoding of ``generated_schemas.py``; ``schemas.contrib_port_specs``
looks them up. Re-run after installing a newer onnxruntime and commit the result;
``tests/test_onnx_ort.py`` fails while the file differs from what the installed
onnxruntime generates. ``--check`` only compares.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_tables import Entry, _quoted, encode  # the sibling tool's encoding

TARGET = Path(__file__).resolve().parent.parent / "netray_onnx" / "generated_contrib_ports.py"
GENERATOR = "plugins/onnx/tools/generate_contrib_ports.py"
DOMAINS = ("com.microsoft", "com.microsoft.nchwc", "com.ms.internal.nhwc")


def contrib_table() -> tuple[str, dict[str, dict[str, list[Entry]]]]:
    """onnxruntime's version and, per domain of its own, op -> every version's formal ports."""
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    variadic = state.schemadef.OpSchema.FormalParameterOption.Variadic
    table: dict[str, dict[str, list[Entry]]] = {}
    for schema in state.get_all_operator_schema():
        if schema.domain not in DOMAINS:
            continue
        inputs, outputs = list(schema.inputs), list(schema.outputs)
        entry = (
            int(schema.since_version),
            tuple(p.name for p in inputs),
            bool(inputs) and inputs[-1].option == variadic,
            tuple(p.name for p in outputs),
            bool(outputs) and outputs[-1].option == variadic,
        )
        table.setdefault(schema.domain, {}).setdefault(schema.name, []).append(entry)
    for ops in table.values():
        for entries in ops.values():
            entries.sort()
    return str(onnxruntime.__version__), {d: dict(sorted(table[d].items())) for d in DOMAINS if d in table}


def source() -> str:
    version, table = contrib_table()
    lines = [
        f'"""Formal input and output ports of ONNX Runtime\'s own operators (domains {", ".join(DOMAINS)}).',
        "",
        f"Generated from onnxruntime {version} by {GENERATOR}: generated, do not edit.",
        "The encoding is generated_schemas.py's; schemas.contrib_port_specs looks them up.",
        '"""',
        "",
        f'ONNXRUNTIME_VERSION = "{version}"',
        "PORTS = {",
    ]
    for domain, ops in table.items():
        lines.append(f"    {_quoted(domain)}: {{")
        lines.extend(f"        {_quoted(op)}: {_quoted(encode(entries))}," for op, entries in ops.items())
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed module; write nothing")
    args = parser.parse_args()
    text = source()
    if args.check:
        same = TARGET.read_text() == text
        print(f"{TARGET.name}: {'up to date' if same else 'stale: run this script without --check'}")
        return 0 if same else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
