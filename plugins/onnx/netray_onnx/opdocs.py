"""Operator documentation from ONNX's own schemas (``onnx.defs``), read at runtime."""

from __future__ import annotations

import functools

from onnx import defs

from netray import OpInfo
from netray_onnx.metadata import category_of

_TYPE_OPTION = {
    defs.OpSchema.FormalParameterOption.Optional: " (optional)",
    defs.OpSchema.FormalParameterOption.Variadic: " (variadic)",
}


def _summary(doc: str) -> str:
    """The first sentence of a schema's doc, on one line."""
    text = " ".join(doc.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


@functools.lru_cache(maxsize=512)
def operator_info(domain: str, op: str) -> OpInfo | None:
    """Summary, doc, inputs, outputs, attributes and since-version of ``op``; None if onnx does not know it."""
    schema_domain = "" if domain == "ai.onnx" else domain
    try:
        schema = defs.get_schema(op, schema_domain)
    except Exception:  # onnx.defs.SchemaError: not a registered operator
        return None
    doc = schema.doc or ""
    return OpInfo(
        category=category_of(schema_domain, op),
        summary=_summary(doc),
        doc=doc.strip(),
        inputs=[(p.name, f"{p.type_str}{_TYPE_OPTION.get(p.option, '')}: {p.description.strip()}") for p in schema.inputs],
        outputs=[(p.name, f"{p.type_str}{_TYPE_OPTION.get(p.option, '')}: {p.description.strip()}") for p in schema.outputs],
        attributes=[
            (a.name, ("" if a.required else "(optional) ") + " ".join(a.description.split()))
            for a in schema.attributes.values()
        ],
        since_version=str(schema.since_version),
    )
