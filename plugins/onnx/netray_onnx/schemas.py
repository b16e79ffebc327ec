"""Formal port names of ONNX operators, from the generated table instead of ``onnx.defs``.

``port_specs(domain, op, version)`` answers as ``onnx.defs.get_schema(op, version, domain)``
does: the schema with the greatest since_version not above the model's opset version for
that domain, or None. The table (``generated_schemas.py``, written by
``plugins/onnx/tools/generate_tables.py``) spares every open the ``import onnx`` and the
start of onnx's C++ schema registry. A model whose opset for a domain is above the table's
highest version was made by a newer ONNX: only then is the installed onnx asked, and its
answer used where it knows a newer schema than the table.
"""

from __future__ import annotations

from netray_onnx.generated_schemas import MAX_VERSION, PORTS

# (formal names, last one variadic) of an op's inputs, and of its outputs
PortSpec = tuple[tuple[str, ...], bool]
OpPorts = tuple[PortSpec, PortSpec]
# (since_version, ports) of every schema of one op, ascending
_Versions = tuple[tuple[int, OpPorts], ...]

_parsed: dict[tuple[str, str], _Versions] = {}
_contrib_parsed: dict[tuple[str, str], _Versions] = {}


def _spec(names: str) -> PortSpec:
    if not names:
        return (), False
    if names.endswith("*"):
        return tuple(names[:-1].split(",")), True
    return tuple(names.split(",")), False


def _parse(text: str) -> _Versions:
    """``"1:input,split:outputs*;2,11:input:outputs*"`` -> ((1, ports), (2, ports), (11, ports))."""
    versions: list[tuple[int, OpPorts]] = []
    for group in text.split(";"):
        since, inputs, outputs = group.split(":")
        ports = (_spec(inputs), _spec(outputs))
        versions.extend((int(v), ports) for v in since.split(","))
    return tuple(versions)


def table_versions(domain: str, op: str) -> _Versions:
    """Every schema version of ``op`` in the table, ascending; () for an op it does not hold."""
    key = (domain, op)
    found = _parsed.get(key)
    if found is None:
        text = PORTS.get(domain, {}).get(op)
        found = _parsed[key] = _parse(text) if text else ()
    return found


def _from_table(domain: str, op: str, version: int) -> tuple[int, OpPorts] | None:
    best = None
    for entry in table_versions(domain, op):
        if entry[0] > version:
            break
        best = entry
    return best


def _from_onnx(domain: str, op: str, version: int) -> tuple[int, OpPorts] | None:
    """(since_version, ports) from the installed onnx's schema registry; None if it has none."""
    try:
        from onnx import defs
    except ImportError:
        return None
    try:
        schema = defs.get_schema(op, version, domain)
    except Exception:  # SchemaError: not a registered op at this version (or a version it cannot take)
        return None
    variadic = defs.OpSchema.FormalParameterOption.Variadic
    inputs, outputs = list(schema.inputs), list(schema.outputs)
    return int(schema.since_version), (
        (tuple(p.name for p in inputs), bool(inputs) and inputs[-1].option == variadic),
        (tuple(p.name for p in outputs), bool(outputs) and outputs[-1].option == variadic),
    )


def port_specs(domain: str, op: str, version: int | None) -> OpPorts | None:
    """Formal input and output ports of ``op`` in ``domain`` at opset ``version``; None if unknown.

    ``version`` None (the model does not import the domain) takes the latest schema in the table.
    """
    if version is None:
        versions = table_versions(domain, op)
        return versions[-1][1] if versions else None
    found = _from_table(domain, op, version)
    latest = MAX_VERSION.get(domain)
    if latest is not None and version > latest:
        # Made by a newer ONNX than the table. The installed onnx may know newer schemas;
        # an older one knows fewer, so its answer counts only when its schema is newer.
        live = _from_onnx(domain, op, version)
        if live is not None and (found is None or live[0] > found[0]):
            return live[1]
    return found[1] if found is not None else None


def contrib_port_specs(domain: str, op: str, version: int | None) -> OpPorts | None:
    """Formal ports of one of ONNX Runtime's own operators (``com.microsoft`` ...), which onnx does not know.

    From ``generated_contrib_ports.py`` (imported on the first such op: most models have none).
    The schema with the greatest since_version not above ``version``; the latest when the model
    does not import the domain. None for an op the table does not hold.
    """
    key = (domain, op)
    found = _contrib_parsed.get(key)
    if found is None:
        from netray_onnx.generated_contrib_ports import PORTS as CONTRIB

        text = CONTRIB.get(domain, {}).get(op)
        found = _contrib_parsed[key] = _parse(text) if text else ()
    if not found:
        return None
    if version is None:
        return found[-1][1]
    best = None
    for since, ports in found:
        if since > version:
            break
        best = ports
    return best
