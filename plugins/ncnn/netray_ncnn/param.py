"""ncnn's ``.param`` (text) and ``.param.bin`` (binary) as layer records.

Text (``Net::load_param``, ``ParamDict::load_param``)::

    7767517
    <layer count> <blob count>
    <type> <name> <input count> <output count> <inputs...> <outputs...> <id>=<value> ...

A value is an int, a float (it holds ``.`` or ``e``), a string (it starts with a
letter or a quote), a comma list (``3=1,2,3``: ints or floats as its first item is)
or, in the old style, ``-23300-id=<count>,<items...>``.

Binary (``Net::load_param_bin``, ``ParamDict::load_param_bin``), little-endian int32s:
the magic, the counts, then per layer its type index, input and output counts, the
blob indices, and ``id, value`` pairs ended by ``-233``; ``id <= -23300`` is an array
(count then raw words), ``id <= -23400`` a string (length then bytes padded to 4).
The binary form stores raw 32-bit words: whether a word is an int or a float is
told by the operator documentation, or, for ids it does not list, by the word
itself (a small integer, or else a float bit pattern). It stores no names: layers
and blobs are named by their index.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from netray import FormatError
from netray_ncnn.formats import FORMAT, FORMAT_BINARY, MAGIC
from netray_ncnn.operators import CUSTOM_BIT, LAYER_TYPES, param_type

MAX_PARAM_ID = 32  # NCNN_MAX_PARAM_COUNT: ncnn refuses ids outside 0..31
MAX_PARAM_BYTES = 256 * 1024 * 1024
SMALL_INT = 1 << 24  # a word whose int32 value is within this is read as an int
TOKEN = re.compile(r'-?\d+="[^"\n]*"?|\S+')
ParamValue = int | float | str | list[int] | list[float]


@dataclass
class LayerRecord:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, ParamValue] = field(default_factory=dict)
    line: int = 0  # text: its line; binary: its position


@dataclass
class ParamFile:
    layers: list[LayerRecord]
    layer_count: int
    blob_count: int
    binary: bool


def read_bytes(path: Path, fmt: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PARAM_BYTES:
            raise FormatError(path, fmt, f"{size:,} bytes is far larger than any network description")
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(path, fmt, f"cannot read file: {exc.strerror or exc}") from exc


# -- text ------------------------------------------------------------------------------------------


def is_float_text(text: str) -> bool:
    head = text[:15]
    return "." in head or "e" in head.lower()


def parse_number(text: str, as_float: bool) -> int | float:
    """One item as ncnn reads it: a float, or a leading integer (sscanf %d)."""
    if as_float:
        return float(text)
    m = re.match(r"[+-]?\d+", text)
    if m is None:
        raise ValueError(f"{text!r} is not a number")
    return int(m.group())


def parse_value(pid: int, text: str) -> tuple[int, ParamValue]:
    """``(id, value)`` from the text after ``id=``."""
    if pid <= -23300:  # old-style array: count, then the items
        pid = -pid - 23300
        count_text, _, rest = text.partition(",")
        count = int(count_text)
        items = [x for x in rest.split(",") if x] if rest else []
        if count != len(items):
            raise ValueError(f"array says {count} items but lists {len(items)}")
        any_float = any(is_float_text(x) for x in items)
        return pid, [parse_number(x, any_float) for x in items]  # type: ignore[return-value]
    if text[:1].isalpha() or text[:1] == '"':
        return pid, text.strip('"')
    as_float = is_float_text(text)
    if "," in text:
        items = [x for x in text.split(",") if x]
        return pid, [parse_number(x, as_float) for x in items]  # type: ignore[return-value]
    return pid, parse_number(text, as_float)


def parse_text(path: Path, data: bytes) -> ParamFile:
    if b"\x00" in data:
        raise FormatError(path, FORMAT, "not a text param (it holds NUL bytes)")
    lines = data.decode("utf-8", errors="replace").splitlines()
    numbered = [(n, line.split()) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered or numbered[0][1][:1] != [str(MAGIC)]:
        raise FormatError(path, FORMAT, f"the first line is not the magic number {MAGIC}")
    header = [tok for _, tokens in numbered[1:2] for tok in tokens]
    if len(header) < 2 or not all(re.fullmatch(r"\d+", t) for t in header[:2]):
        raise FormatError(path, FORMAT, "the second line must hold the layer count and the blob count")
    layer_count, blob_count = int(header[0]), int(header[1])
    if layer_count <= 0 or blob_count <= 0:
        raise FormatError(path, FORMAT, f"layer count {layer_count} and blob count {blob_count} must be positive")
    layers: list[LayerRecord] = []
    for number, line in ((n, lines[n - 1]) for n, _ in numbered[2:]):
        layers.append(parse_layer_line(path, number, line))
        if len(layers) == layer_count:
            break
    if len(layers) < layer_count:
        raise FormatError(
            path, FORMAT, f"declares {layer_count} layers but holds {len(layers)} layer lines (truncated?)"
        )
    return ParamFile(layers, layer_count, blob_count, binary=False)


def parse_layer_line(path: Path, number: int, line: str) -> LayerRecord:
    tokens = TOKEN.findall(line)

    def fail(reason: str) -> FormatError:
        return FormatError(path, FORMAT, f"line {number}: {reason}")

    if len(tokens) < 4:
        raise fail("a layer line needs: type name input_count output_count")
    kind, name, n_in, n_out = tokens[:4]
    if not (n_in.isdigit() and n_out.isdigit()):
        raise fail(f"input and output counts {n_in!r} {n_out!r} are not numbers")
    n_in_i, n_out_i = int(n_in), int(n_out)
    if 4 + n_in_i + n_out_i > len(tokens):
        raise fail(f"{kind} {name!r} declares {n_in_i} inputs and {n_out_i} outputs but lists {len(tokens) - 4} names")
    bottoms = tokens[4 : 4 + n_in_i]
    tops = tokens[4 + n_in_i : 4 + n_in_i + n_out_i]
    params: dict[int, ParamValue] = {}
    for token in tokens[4 + n_in_i + n_out_i :]:
        key, eq, text = token.partition("=")
        if not eq or not re.fullmatch(r"-?\d+", key) or not text:
            raise fail(f"{token!r} is not an id=value param")
        try:
            pid, value = parse_value(int(key), text)
        except (ValueError, OverflowError) as exc:
            raise fail(f"param {token!r}: {exc}") from None
        if not 0 <= pid < MAX_PARAM_ID:
            raise fail(f"param id {key} is outside 0..{MAX_PARAM_ID - 1} (ncnn refuses it)")
        params[pid] = value
    return LayerRecord(kind, name, bottoms, tops, params, number)


# -- binary ----------------------------------------------------------------------------------------


def word_value(word: int, kind: str) -> int | float:
    """A raw 32-bit param word as the documented type, or as what it looks like."""
    as_int = word - (1 << 32) if word >= 1 << 31 else word
    if kind == "int" or (kind not in ("float",) and -SMALL_INT <= as_int <= SMALL_INT):
        return as_int
    return float(struct.unpack("<f", struct.pack("<I", word))[0])


def array_value(words: np.ndarray, kind: str) -> list[int] | list[float]:
    ints = words.view("<i4")
    if kind != "float" and bool(np.all(np.abs(ints.astype(np.int64)) <= SMALL_INT)):
        return [int(x) for x in ints]
    return [float(x) for x in words.view("<f4")]


def type_name(index: int) -> str:
    if index & CUSTOM_BIT:
        return f"Custom{index & ~CUSTOM_BIT}"
    if 0 <= index < len(LAYER_TYPES):
        return LAYER_TYPES[index]
    return f"LayerType{index}"


class BinaryCursor:
    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        self.pos = 0

    def fail(self, reason: str) -> FormatError:
        return FormatError(self.path, FORMAT_BINARY, f"at byte {self.pos}: {reason}")

    def ints(self, count: int, what: str) -> tuple[int, ...]:
        if count < 0 or self.pos + 4 * count > len(self.data):
            raise self.fail(f"the file ends inside {what} ({len(self.data)} bytes)")
        values = struct.unpack_from(f"<{count}i", self.data, self.pos)
        self.pos += 4 * count
        return values

    def words(self, count: int, what: str) -> np.ndarray:
        if count < 0 or self.pos + 4 * count > len(self.data):
            raise self.fail(f"the file ends inside {what} ({len(self.data)} bytes; it would need {4 * count} more)")
        array = np.frombuffer(self.data, dtype="<u4", count=count, offset=self.pos)
        self.pos += 4 * count
        return array


def parse_binary(path: Path, data: bytes) -> ParamFile:
    cur = BinaryCursor(path, data)
    magic, layer_count, blob_count = cur.ints(3, "the header")
    if magic != MAGIC:
        raise FormatError(path, FORMAT_BINARY, f"magic {magic} is not {MAGIC}")
    if layer_count <= 0 or blob_count <= 0:
        raise FormatError(
            path, FORMAT_BINARY, f"layer count {layer_count} and blob count {blob_count} must be positive"
        )
    if layer_count > len(data) // 16:  # every layer takes at least 16 bytes
        raise FormatError(path, FORMAT_BINARY, f"declares {layer_count:,} layers; {len(data):,} bytes cannot hold them")
    layers: list[LayerRecord] = []
    for i in range(layer_count):
        typeindex, n_in, n_out = cur.ints(3, f"layer {i}'s header")
        bottoms = cur.ints(n_in, f"layer {i}'s input indices")
        tops = cur.ints(n_out, f"layer {i}'s output indices")
        for b in (*bottoms, *tops):
            if not 0 <= b < blob_count:
                raise cur.fail(f"layer {i} names blob {b}, outside 0..{blob_count - 1}")
        op = type_name(typeindex)
        params: dict[int, ParamValue] = {}
        while True:
            (pid,) = cur.ints(1, f"layer {i}'s params")
            if pid == -233:
                break
            if pid <= -23400:
                pid = -pid - 23400
                (length,) = cur.ints(1, "a string length")
                if not 0 <= length <= 255:
                    raise cur.fail(f"string of {length} bytes (ncnn allows 255)")
                padded = (length + 3) // 4 * 4
                raw = cur.words(padded // 4, "a string").tobytes()[:length]
                value: ParamValue = raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")
            elif pid <= -23300:
                pid = -pid - 23300
                (length,) = cur.ints(1, "an array length")
                value = array_value(cur.words(length, f"an array of {length} items"), param_type(op, pid))
            else:
                value = word_value(int(cur.words(1, "a param value")[0]), param_type(op, pid))
            if not 0 <= pid < MAX_PARAM_ID:
                raise cur.fail(f"param id {pid} is outside 0..{MAX_PARAM_ID - 1} (ncnn refuses it)")
            params[pid] = value
        layers.append(
            LayerRecord(op, f"{op.lower()}_{i}", [f"blob{b}" for b in bottoms], [f"blob{t}" for t in tops], params, i)
        )
    return ParamFile(layers, layer_count, blob_count, binary=True)


def read_param(path: Path) -> ParamFile:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read file: {exc.strerror or exc}") from exc
    binary = head == MAGIC.to_bytes(4, "little")
    data = read_bytes(path, FORMAT_BINARY if binary else FORMAT)
    return parse_binary(path, data) if binary else parse_text(path, data)
