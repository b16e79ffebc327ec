"""One table of each IR record's plain fields, driving both writing and reading.

A field is an attribute of an IR object (``"type.dtype"`` reaches into a Value's
TensorType), the JSON key it is stored under, a codec and a default. Writing omits
fields at their default; reading fills a missing field with its default and checks
every present one, so a hostile file cannot put a list where a name belongs.
Structure (graphs, values, nodes, ports, references) is not here: the encoder and
decoder handle it, as it needs the tables of indices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netray.ir import Category

if TYPE_CHECKING:
    from netray.netrayfile.decode import Decoder
    from netray.netrayfile.encode import Encoder


class Bad(Exception):
    """Something in the file is wrong; becomes FormatError(path, "netray", reason)."""


def expect(x: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(x, kind) or (kind is int and isinstance(x, bool)):
        raise Bad(f"{where}: expected {getattr(kind, '__name__', kind)}, found {type(x).__name__}")
    return x


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _dims(x: Any, where: str) -> tuple[Any, ...]:
    dims = []
    for d in expect(x, list, where):
        if (d is not None and not isinstance(d, (int, str))) or isinstance(d, bool):
            raise Bad(f"{where}: a dimension must be an integer, a name or null, found {d!r}")
        dims.append(d)
    return tuple(dims)


@dataclass(frozen=True)
class Codec:
    encode: Callable[[Any, Encoder], Any]
    decode: Callable[[Any, Decoder, str], Any]


def _checked(test: Callable[[Any], bool], what: str) -> Callable[[Any, Decoder, str], Any]:
    def decode(x: Any, _dec: Decoder, where: str) -> Any:
        if not test(x):
            raise Bad(f"{where}: expected {what}, found {type(x).__name__}")
        return x

    return decode


def _numbers(convert: type, test: Callable[[Any], bool], what: str) -> Codec:
    def decode(x: Any, dec: Decoder, where: str) -> list[Any]:
        items = [dec.any(v, where) for v in expect(x, list, where)]
        if not all(test(v) for v in items):
            raise Bad(f"{where}: expected a list of {what}")
        return [convert(v) for v in items]

    return Codec(lambda v, enc: [enc.any(convert(x)) for x in v], decode)


CODECS: dict[str, Codec] = {
    "str": Codec(lambda v, _: v, _checked(lambda x: type(x) is str, "str")),
    "opt_str": Codec(lambda v, _: v, _checked(lambda x: x is None or type(x) is str, "str or null")),
    "opt_int": Codec(lambda v, _: None if v is None else int(v), _checked(lambda x: x is None or _is_int(x), "int or null")),
    "floats": _numbers(float, lambda x: isinstance(x, (int, float)) and not isinstance(x, bool), "numbers"),
    "ints": _numbers(int, _is_int, "integers"),
    "meta": Codec(lambda v, enc: {str(k): enc.any(x) for k, x in v.items()}, lambda x, dec, where: dec.mapping(x, where)),
    "str_tuple": Codec(lambda v, _: list(v), lambda x, _dec, where: tuple(expect(s, str, where) for s in expect(x, list, where))),
    "shape": Codec(
        lambda v, enc: None if v is None else [enc.any(d) for d in v],
        lambda x, _dec, where: None if x is None else _dims(x, where),
    ),
    "category": Codec(lambda v, _: Category(v).value, lambda x, _dec, where: _category(x, where)),
}


def _category(x: Any, where: str) -> Category:
    try:
        return Category(expect(x, str, where))
    except ValueError as exc:
        raise Bad(f"{where}: unknown category {x!r}") from exc


@dataclass(frozen=True)
class Field:
    attr: str  # attribute path on the IR object ("type.dtype")
    codec: str
    default: Any = ""  # a value, or a zero-argument callable for mutable defaults

    @property
    def key(self) -> str:
        return self.attr.rsplit(".", 1)[-1]

    def fresh_default(self) -> Any:
        return self.default() if callable(self.default) else self.default


def _f(attr: str, codec: str = "str", default: Any = "") -> Field:
    return Field(attr, codec, default)


def _meta(attr: str = "metadata") -> Field:
    return Field(attr, "meta", dict)


FIELDS: dict[str, tuple[Field, ...]] = {
    "model": (
        _f("format"),
        _f("format_version"),
        _f("producer"),
        _f("producer_version"),
        _f("description"),
        _meta("metadata"),
        _meta("imports"),
        _meta("properties"),
    ),
    "graph": (_f("name"), _f("kind", default="graph"), _f("description"), _f("inferred"), _meta()),
    "node": (
        _f("id"),
        _f("op"),
        _f("name"),
        _f("domain"),
        _f("category", "category", Category.OTHER),
        _f("scope", "str_tuple", ()),
        _f("doc"),
        _f("device"),
        _meta(),
    ),
    "value": (
        _f("type.dtype", "opt_str", None),
        _f("type.shape", "shape", None),
        _f("type.denotation"),
        _f("description"),
        _meta(),
    ),
    "tensor": (
        _f("name"),
        _f("dtype", "opt_str", None),
        _f("shape", "shape", None),
        _f("byte_size", "opt_int", None),
        _f("location"),
        _f("kind", default="dense"),
        _meta(),
    ),
    "quantization": (
        _f("scheme", default="affine"),
        _f("scale", "floats", list),
        _f("zero_point", "ints", list),
        _f("axis", "opt_int", None),
        _f("block_size", "opt_int", None),
        _f("min", "floats", list),
        _f("max", "floats", list),
        _meta("details"),
    ),
    "source": (_f("file"), _f("line", "opt_int", None), _f("function"), _f("stack")),
}


def _get(obj: Any, attr: str) -> Any:
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _set(obj: Any, attr: str, value: Any) -> None:
    *path, last = attr.split(".")
    for part in path:
        obj = getattr(obj, part)
    setattr(obj, last, value)


def _is_default(value: Any, field: Field) -> bool:
    default = field.fresh_default()
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return len(value) == 0 and len(default) == 0
    return bool(value == default) and type(value) is type(default)


def write_fields(obj: Any, record: str, enc: Encoder, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record's fields that differ from their defaults, as JSON-ready values."""
    out = {} if out is None else out
    for field in FIELDS[record]:
        value = _get(obj, field.attr)
        if not _is_default(value, field):
            out[field.key] = CODECS[field.codec].encode(value, enc)
    return out


def read_fields(d: dict[str, Any], record: str, obj: Any, dec: Decoder, where: str) -> Any:
    """Set the record's fields on ``obj`` from ``d``, checking each; returns ``obj``."""
    for field in FIELDS[record]:
        x = d.get(field.key)
        value = field.fresh_default() if x is None else CODECS[field.codec].decode(x, dec, f"{where}.{field.key}")
        _set(obj, field.attr, value)
    return obj
