"""safetensors files and sharded models as weights-only netray models (no graph, named tensors).

Every tensor goes into ``Model.tensors`` under its own name, in the order of the header
(the order the writer laid the data out in); a sharded model lists its shards' tensors
shard by shard. ``__metadata__`` is what the file states, so it becomes ``Model.metadata``;
counts, sizes and layout notes are derived, so they become ``Model.properties``.
Nothing of the data region is read here: each tensor gets a lazy memory-mapped loader.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from netray import FormatError, MetaValue, Model, Tensor
from netray_safetensors.formats import FORMAT
from netray_safetensors.header import Entry, Header, quoted, read_header
from netray_safetensors.index import SHARD_NAME, ShardIndex, indexes_listing, read_index, shard_path
from netray_safetensors.loaders import SliceLoader


def tensor_of(path: Path, entry: Entry) -> Tensor:
    return Tensor(
        entry.name,
        entry.dtype,
        entry.shape,
        loader=SliceLoader(path, entry),
        byte_size=entry.length,
        location=f"{path.name} @ {entry.begin}",
        metadata={"dtype": entry.code},  # the header's own code ("BF16"), beside netray's name
    )


def _bytes_by_dtype(tensors: dict[str, Tensor]) -> str:
    """``bfloat16: 13,476,839,424 bytes in 291 tensors; float32: ...``, largest first."""
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for t in tensors.values():
        if t.byte_size is not None and t.dtype is not None:
            sizes[t.dtype] += t.byte_size
            counts[t.dtype] += 1
    parts = [f"{dtype}: {size:,} bytes in {counts[dtype]:,} tensor{'s' if counts[dtype] != 1 else ''}" for dtype, size in sizes.most_common()]
    return "; ".join(parts)


def _describe(model: Model) -> None:
    """The derived facts every safetensors model shows first: counts and sizes."""
    stored = [t for t in model.tensors.values() if t.has_data]
    model.properties["tensors"] = len(model.tensors)
    model.properties["parameters"] = sum(t.size or 0 for t in stored)
    model.properties["tensor bytes"] = sum(t.byte_size or 0 for t in stored)
    if stored:
        model.properties["bytes by dtype"] = _bytes_by_dtype(model.tensors)


def read_file(path: Path) -> Model:
    """One .safetensors file; a shard that an index beside it lists opens the whole model of that index."""
    listing = indexes_listing(path)
    if len(listing) == 1:
        index, shards = listing[0]
        where = f"shard {shards.index(path.name) + 1} of {len(shards)} listed by {index.path.name}"
        try:
            model = read_sharded(index.path)
        except FormatError as exc:
            model = read_alone(path)
            model.properties["shard"] = f"{where}, which was not read ({exc.reason}): opened on its own"
            return model
        model.properties["opened from"] = f"{path.name}, {where}"
        return model
    model = read_alone(path)
    if listing:
        names = ", ".join(index.path.name for index, _ in listing)
        model.properties["shard"] = f"listed by {len(listing)} indexes ({names}): opened on its own; open one of them for the whole model"
        return model
    match = SHARD_NAME.search(path.name)
    if match:
        model.properties["shard"] = f"{int(match.group(1))} of {int(match.group(2))} by the file's name (no index file beside it)"
    return model


def read_alone(path: Path) -> Model:
    """The tensors of one .safetensors file, and nothing else."""
    header = read_header(path)
    model = Model(FORMAT)
    for entry in header.entries:
        model.tensors[entry.name] = tensor_of(path, entry)
    model.metadata.update(header.metadata)
    _describe(model)
    model.properties["header bytes"] = header.header_length
    model.properties.update(header.notes)
    return model


def read_sharded(index_path: Path) -> Model:
    """An index and the shards it names, as one model; a missing shard's tensors are listed, not stored."""
    index = read_index(index_path)
    shards = index.shards()
    model = Model(FORMAT)
    model.metadata.update(index.metadata)
    headers: dict[str, Header] = {}
    missing: list[str] = []
    for name in shards:
        path = shard_path(index_path, name)
        if not path.is_file():
            missing.append(name)
            continue
        headers[name] = read_header(path)
    expected = _expected_names(index)
    problems: list[str] = []
    for name in shards:
        header = headers.get(name)
        if header is None:
            for tensor_name in expected[name]:
                model.tensors.setdefault(tensor_name, Tensor(tensor_name, None, None, location=f"{name} (missing)"))
            continue
        _add_shard(model, name, header, index, problems)
        absent = [t for t in expected[name] if t not in model.tensors]
        if absent:
            problems.append(f"{len(absent)} tensors the index places in {name} are not in it (first: {quoted(absent[0])})")
            for tensor_name in absent:
                model.tensors[tensor_name] = Tensor(tensor_name, None, None, location=f"{name} (not in the shard)")
    _merge_metadata(model, headers)
    _describe(model)
    model.properties["shards"] = len(shards)
    if missing:
        model.properties["missing shards"] = missing
    if problems:
        model.properties["index problems"] = problems
    notes = _shard_notes(headers)
    model.properties.update(notes)
    _check_total_size(model, index, missing)
    return model


def _expected_names(index: ShardIndex) -> dict[str, list[str]]:
    by_shard: dict[str, list[str]] = {}
    for tensor_name, shard in index.weight_map.items():
        by_shard.setdefault(shard, []).append(tensor_name)
    return by_shard


def _add_shard(model: Model, name: str, header: Header, index: ShardIndex, problems: list[str]) -> None:
    """A shard's tensors into the model; a name two shards hold is taken from the shard the index names."""
    unlisted: list[str] = []
    elsewhere: list[str] = []
    for entry in header.entries:
        owner = index.weight_map.get(entry.name)
        if owner is None:
            unlisted.append(entry.name)
        elif owner != name:
            elsewhere.append(entry.name)
            continue
        model.tensors[entry.name] = tensor_of(header.path, entry)
    if unlisted:
        problems.append(f"{len(unlisted)} tensors of {name} are not in the weight_map (first: {quoted(unlisted[0])})")
    if elsewhere:
        problems.append(f"{len(elsewhere)} tensors of {name} are placed in another shard by the index (first: {quoted(elsewhere[0])})")


def _merge_metadata(model: Model, headers: dict[str, Header]) -> None:
    """Shards' ``__metadata__`` (``{"format": "pt"}`` in each): a key all shards agree on once, a key
    whose values differ once per shard as ``"<shard>: <key>"``."""
    values: dict[str, dict[str, MetaValue]] = {}
    for shard, header in headers.items():
        for key, value in header.metadata.items():
            values.setdefault(key, {})[shard] = value
    for key, by_shard in values.items():
        distinct = {repr(v) for v in by_shard.values()}
        if len(distinct) == 1 and key not in model.metadata:
            model.metadata[key] = next(iter(by_shard.values()))
        else:
            for shard, value in by_shard.items():
                model.metadata[f"{shard}: {key}"] = value


def _shard_notes(headers: dict[str, Header]) -> dict[str, MetaValue]:
    """Layout notes of the shards added up (unused bytes, shared bytes) or listed (unknown dtypes)."""
    out: dict[str, MetaValue] = {}
    for header in headers.values():
        for key, value in header.notes.items():
            old = out.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                out[key] = (old if isinstance(old, int) else 0) + value
            elif isinstance(value, list):
                merged = list(old) if isinstance(old, list) else []
                out[key] = merged + [v for v in value if v not in merged]
    return out


def _check_total_size(model: Model, index: ShardIndex, missing: list[str]) -> None:
    """transformers writes the tensors' byte total as metadata.total_size; say when the shards disagree."""
    stated = index.metadata.get("total_size")
    if missing or not isinstance(stated, int) or isinstance(stated, bool):
        return
    found = model.properties.get("tensor bytes")
    if isinstance(found, int) and found != stated:
        model.properties["total_size check"] = f"the index states {stated:,} bytes; the shards' tensors take {found:,}"
