"""The netray hooks of the OpenVINO IR plugin: formats, sniffing, loading, operator info.

The reader (and defusedxml) is imported inside the hooks that read: every netray command
imports every plugin.
"""

from __future__ import annotations

from pathlib import Path

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_openvino.formats import FORMAT, FORMATS
from netray_openvino.operators import spec_for
from netray_openvino.sniff import ir_confidence, xml_beside

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        confidence = ir_confidence(head)
        if confidence > 0:
            return Claim(FORMAT, confidence)
        if xml_beside(path) is not None:  # the weights of an IR: open its topology
            return Claim(FORMAT, 0.9)
    except Exception:  # sniffing never raises
        return None
    return None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    from netray_openvino.reader import load

    return load(path)


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format != FORMAT:
        return None
    spec = spec_for(op)
    if spec is None:
        return None
    return OpInfo(
        category=spec.category,
        summary=spec.summary,
        inputs=[(name, "") for name in spec.inputs],
        outputs=[(name, "") for name in spec.outputs],
        since_version=domain,
    )
