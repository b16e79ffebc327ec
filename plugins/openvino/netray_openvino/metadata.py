"""What the IR states about itself: ``<meta_data>`` (Model Optimizer) and ``<rt_info>`` (IR v11) as metadata.

Both are trees of elements that carry ``value`` attributes: ``<MO_version value="2021.3"/>``,
``<cli_parameters><data_type value="FP32"/></cli_parameters>``, ``<info name="OpenVINO Runtime"
value="2024.0"/>``, ``<conversion_parameters><framework value="pytorch"/></conversion_parameters>``.
They become flat keys joined by ``/`` (``cli_parameters/data_type``), values typed as scalars.
"""

from __future__ import annotations

from typing import Any

from netray.ir import Metadata
from netray_openvino import elements

MAX_ENTRIES = 10_000  # a tree bigger than this is not metadata; the rest is counted, not kept
MAX_DEPTH = 32


def flatten(element: Any, prefix: str = "", out: Metadata | None = None, depth: int = 0) -> Metadata:
    """Every value under ``element`` as ``path/to/key: value``."""
    out = {} if out is None else out
    if element is None or depth > MAX_DEPTH:
        return out
    for child in element:
        if not isinstance(child.tag, str) or len(out) >= MAX_ENTRIES:
            continue
        key = child.get("name") if child.tag in ("info", "attribute") and child.get("name") else child.tag
        path = f"{prefix}/{key}" if prefix else key
        attrs = {k: v for k, v in child.attrib.items() if k not in ("name", "version")}
        if "value" in attrs:
            out[path] = elements.meta_value(attrs["value"])
        elif len(attrs) == 1:  # <unset unset_cli_parameters="batch, counts"/>
            out[path] = elements.meta_value(next(iter(attrs.values())))
        else:
            for k, v in attrs.items():
                out[f"{path}/{k}"] = elements.meta_value(v)
        text = (child.text or "").strip()
        if text and not attrs and not len(child):  # POT's <config>{...}</config>
            out[path] = text
        flatten(child, path, out, depth + 1)
    return out


def producer(metadata: Metadata) -> tuple[str, str]:
    """Who wrote the IR, and which version: Model Optimizer, else the OpenVINO runtime that saved it."""
    mo = metadata.get("MO_version")
    if isinstance(mo, str) and mo:
        return "Model Optimizer", mo
    for key in ("Runtime_version", "OpenVINO Runtime"):
        version = metadata.get(key)
        if isinstance(version, str) and version:
            return "OpenVINO", version
    return "", ""


def source_framework(metadata: Metadata) -> str:
    """The framework the model was converted from, where the converter recorded it."""
    for key in ("cli_parameters/framework", "conversion_parameters/framework", "framework"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return ""
