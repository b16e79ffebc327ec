"""The netray hooks of the Core ML plugin: formats, sniff, load, operator docs.

Every plugin is imported by every netray command, so the reader (and protobuf) is imported
only when a Core ML file is read.
"""

from __future__ import annotations

from pathlib import Path

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_coreml.formats import FORMAT, FORMATS, PACKAGE_FORMAT

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    from netray_coreml.sniff import claim_file, claim_folder

    try:
        found = claim_folder(path) if path.is_dir() else claim_file(path, head)
    except Exception:  # sniffing never raises, whatever the file system does
        return None
    return Claim(*found) if found else None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format not in (FORMAT, PACKAGE_FORMAT):
        return None
    from netray_coreml.reader import load

    return load(Path(path), format)


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format not in (FORMAT, PACKAGE_FORMAT):
        return None
    from netray_coreml.operators import operator_info

    return operator_info(domain, op)
