"""What the model panel says about a GGUF file: description, producer and derived properties.

``Model.metadata`` is the file's key/values as they are (typed, arrays whole); this module
derives the rest: counts, bytes by ggml type, the file type's name, and a note when the
data section is shorter than the tensors need.
"""

from __future__ import annotations

from netray import Metadata, MetaValue, Model, Tensor
from netray_gguf.ggml_types import file_type_name
from netray_gguf.header import Header


def _text(meta: Metadata, key: str) -> str:
    value = meta.get(key)
    return value.strip() if isinstance(value, str) else ""


def describe(model: Model, header: Header, tensors: dict[str, Tensor]) -> None:
    """Fill ``description``, ``producer`` and ``properties`` of ``model`` from the header."""
    meta = model.metadata
    arch = _text(meta, "general.architecture")
    name = _text(meta, "general.name") or _text(meta, "general.basename")
    size_label = _text(meta, "general.size_label")
    title = f"{name} {size_label}" if size_label and size_label not in name else name
    parts = [p for p in (title, f"{arch} architecture" if arch else "", _text(meta, "general.description")) if p]
    model.description = "; ".join(parts)
    # GGUF does not record the writing tool; who quantized or published the file is the nearest fact.
    model.producer = (
        _text(meta, "general.quantized_by") or _text(meta, "general.organization") or _text(meta, "general.author")
    )

    props: dict[str, MetaValue] = {}
    props["GGUF version"] = header.version
    if arch:
        props["architecture"] = arch
    if "general.file_type" in meta:
        props["file type"] = file_type_name(meta["general.file_type"])
    props["tensor count"] = len(header.tensors)
    props["key/value count"] = len(meta)
    props["parameters"] = sum(t.size or 0 for t in tensors.values())
    props["alignment"] = header.alignment
    props["tensor data offset"] = header.data_offset
    if header.big_endian:
        props["byte order"] = "big-endian"
    by_type: dict[str, tuple[int, int]] = {}
    for t in tensors.values():
        kind = str(t.metadata.get("ggml_type", t.dtype))
        count, size = by_type.get(kind, (0, 0))
        by_type[kind] = (count + 1, size + (t.byte_size or 0))
    for kind, (count, size) in sorted(by_type.items(), key=lambda item: -item[1][1]):
        props[f"bytes {kind}"] = size
        props[f"tensors {kind}"] = count
    missing = truncated_tensors(header, tensors)
    if missing:
        present = max(0, header.file_size - header.data_offset)
        props["truncated"] = (
            f"the data of {len(missing)} of {len(tensors)} tensors lies past the end of the file "
            f"({header.file_size:,} bytes; {present:,} bytes of tensor data present): reading them fails"
        )
    model.properties.update(props)


def truncated_tensors(header: Header, tensors: dict[str, Tensor]) -> list[str]:
    """Names of the tensors whose bytes the file does not hold in full."""
    out = []
    for t in tensors.values():
        offset = t.metadata.get("offset")
        if isinstance(offset, int) and t.byte_size is not None and offset + t.byte_size > header.file_size:
            out.append(t.name)
    return out
