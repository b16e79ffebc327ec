"""The netray hooks of the Paddle plugin: formats, sniffing, loading, operator info."""

from __future__ import annotations

from pathlib import Path

from netray import Claim, FormatInfo, Model, OpInfo, hookimpl
from netray_paddle.formats import FORMATS, PARAMS, PIR, PROGRAM
from netray_paddle.sniff import sniff

NETRAY_CONTRACT = "1.0"  # the plugin contract version these hooks were written for


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    try:
        return sniff_claim(path, head)
    except Exception:  # sniffing never raises: a file that cannot be looked at is not claimed
        return None


def sniff_claim(path: Path, head: bytes) -> Claim | None:
    found = sniff(path, head)
    return Claim(*found) if found else None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format == PROGRAM:
        from netray_paddle.program import load_program

        return load_program(path)
    if format == PIR:
        from netray_paddle.pir import load_pir

        return load_pir(path)
    if format == PARAMS:
        from netray_paddle.standalone import load_params

        return load_params(path)
    return None


@hookimpl
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:
    if format not in (PROGRAM, PIR):
        return None
    from netray_paddle.operators import lookup

    found = lookup(op)
    if found is None:
        return None
    return OpInfo(category=found[0], summary=found[1])
