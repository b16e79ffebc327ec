"""The ``.netray`` file: netray's own portable, versioned graph file.

A zip archive holding

* ``netray.json`` (always the first member): a format marker, a version and the
  whole IR: model fields, a flat table of graphs (subgraphs and functions are
  referenced by index), a flat table of values, of nodes' ports and attributes,
  a table of tensors and the model's named tensors;
* with weights, one uncompressed ``.npy`` member per tensor. Members are stored
  (never deflated) so that loading gives lazy :func:`netray.file_slice_loader`\\ s
  that memory-map the bytes straight out of the archive.

The modules: :mod:`.fields` (one table of every record's plain fields, for writing
and reading alike), :mod:`.encode`, :mod:`.decode`, :mod:`.members` (the tensors'
stored members). This package is also the core's one built-in plugin
(``netray_formats``/``netray_sniff``/``netray_load``), registered by
:func:`netray.plugins.get_manager`, so the core reads it with no plugin installed.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from netray.atomic import replacing
from netray.errors import FormatError
from netray.hookspecs import Claim, FormatInfo, hookimpl
from netray.ir import Model
from netray.netrayfile.decode import Decoder
from netray.netrayfile.encode import FORMAT, MARKER, VERSION, encode, model_json
from netray.netrayfile.fields import Bad, expect
from netray.netrayfile.members import (
    ALIGNMENT,
    LOCAL_HEADER,
    MAX_JSON_BYTES,
    VIEWS_MEMBER,
    npy_loader,
    read_views,
    storable,
    viewing_loader,
    write_aligned_member,
)

NETRAY_CONTRACT = "1.0"
EXTENSION = ".netray"
JSON_MEMBER = "netray.json"

__all__ = ["ALIGNMENT", "FORMAT", "VERSION", "Decoder", "load", "looks_like_netray", "model_json", "save"]


def save(model: Model, path: str | Path, weights: bool = True) -> Path:
    """Write ``model`` to ``path`` as a ``.netray`` file; with ``weights``, every readable tensor's values too.

    The file is written beside the target and renamed into place, so a failure
    leaves an existing file untouched. Raises FormatError (naming the tensor) when
    a tensor's values cannot be read; pass ``weights=False`` to save structure only.
    """
    from netray.plugins import gc_paused

    path = Path(path)
    with gc_paused():
        text, enc, tensors_json = encode(model, weights)
    with replacing(path) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        info = zipfile.ZipInfo(JSON_MEMBER, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, text.encode("utf-8"))  # first member: sniffing reads it from the head
        views: dict[str, str] = {}
        for t, t_json in zip(enc.tensors, tensors_json, strict=True):
            member = t_json.get("data")
            if member is None:
                continue
            try:
                array, view = storable(np.asarray(t.numpy()))
            except FormatError as exc:
                raise FormatError(path, FORMAT, f"cannot save the values of tensor {t.name!r} ({exc.reason}); save with weights=False to keep structure only") from exc
            except ValueError as exc:
                raise FormatError(path, FORMAT, f"cannot save tensor {t.name!r}: {exc}") from exc
            write_aligned_member(zf, member, array)
            if view is not None:
                views[member] = view
        if views:  # known only now that the arrays were read, so after them
            zf.writestr(zipfile.ZipInfo(VIEWS_MEMBER, date_time=(1980, 1, 1, 0, 0, 0)), json.dumps(views))
    return path


def _read_json(zf: zipfile.ZipFile, file_size: int) -> dict[str, object]:
    try:
        info = zf.getinfo(JSON_MEMBER)
    except KeyError as exc:
        raise Bad(f"the archive has no {JSON_MEMBER}") from exc
    if info.file_size > MAX_JSON_BYTES:
        raise Bad(f"{JSON_MEMBER} declares {info.file_size} bytes, more than the {MAX_JSON_BYTES} allowed")
    if info.compress_size > file_size:
        raise Bad(f"{JSON_MEMBER} is larger than the file")
    with zf.open(info) as fh:
        raw = fh.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise Bad(f"{JSON_MEMBER} is larger than {MAX_JSON_BYTES} bytes")
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Bad(f"{JSON_MEMBER} lacks the netray format marker")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise Bad(f"{JSON_MEMBER} has no version")
    if version > VERSION:
        raise Bad(f"file version {version} is newer than this netray reads ({VERSION}); update netray")
    return doc


def load(path: str | Path) -> Model:
    """Read a ``.netray`` file. Tensors with stored values get memory-mapping loaders."""
    path = Path(path)
    try:
        file_size = path.stat().st_size
        with open(path, "rb") as f, zipfile.ZipFile(f) as zf:
            doc = _read_json(zf, file_size)
            tensors = expect(doc.get("tensors", []), list, "tensors")
            views = read_views(zf)
            loaders: list[Callable[[], np.ndarray] | None] = []
            for i, t in enumerate(tensors):
                member = expect(t, dict, f"tensors[{i}]").get("data")
                if member is None:
                    loaders.append(None)
                    continue
                loader = npy_loader(path, f, zf, expect(member, str, f"tensors[{i}].data"), file_size)
                loaders.append(loader if member not in views else viewing_loader(path, loader, views[member]))
            model = Decoder(doc, loaders).build()
    except Bad as exc:
        raise FormatError(path, FORMAT, str(exc)) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise FormatError(path, FORMAT, f"not a readable zip archive ({exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(path, FORMAT, f"{JSON_MEMBER} is not valid JSON ({exc})") from None
    except RecursionError:
        raise FormatError(path, FORMAT, f"{JSON_MEMBER} is nested too deeply") from None
    except (OSError, struct.error, ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise FormatError(path, FORMAT, f"malformed file ({type(exc).__name__}: {exc})") from None
    model.source = path
    return model


def looks_like_netray(head: bytes) -> bool:
    """Whether ``head`` (the file's first bytes) is a zip whose first member is netray.json with the marker."""
    if len(head) < LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        return False
    fields = LOCAL_HEADER.unpack(head[: LOCAL_HEADER.size])
    method, name_len, extra_len = fields[4], fields[10], fields[11]
    name_end = LOCAL_HEADER.size + name_len
    if head[LOCAL_HEADER.size : name_end] != JSON_MEMBER.encode():
        return False
    data = head[name_end + extra_len :]
    if method == zipfile.ZIP_DEFLATED:
        try:
            data = zlib.decompressobj(-15).decompress(data, len(MARKER))
        except zlib.error:
            return False
    elif method != zipfile.ZIP_STORED:
        return False
    return data.startswith(MARKER)


FORMATS = [FormatInfo(FORMAT, (EXTENSION,), "netray's portable graph file (structure, optional weights)", contains=(JSON_MEMBER,))]


@hookimpl
def netray_formats() -> list[FormatInfo]:
    return list(FORMATS)


@hookimpl
def netray_sniff(path: Path, head: bytes) -> Claim | None:
    if looks_like_netray(head):
        return Claim(FORMAT, 1.0)
    if path.suffix.lower() == EXTENSION and path.is_file():
        return Claim(FORMAT, 0.1)  # claim it anyway, so a damaged file gets a netray error
    return None


@hookimpl
def netray_load(path: Path, format: str) -> Model | None:
    if format != FORMAT:
        return None
    return load(path)
