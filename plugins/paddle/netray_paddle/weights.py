"""Finding a program's parameters beside it and naming them.

A combined parameters file (``X.pdiparams`` beside ``X.pdmodel`` or ``X.json``,
``__params__`` beside ``__model__``) holds no names: Paddle writes the persistable variables
sorted by name, so the n-th tensor is the n-th name. Old inference folders hold one file per
variable instead, named after it. The shapes in the tensor headers are checked against the
program's; a file that does not fit is reported, never silently mis-assigned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import netray
from netray import Tensor
from netray_paddle.params import StoredTensor, scan, scan_single, tensor


@dataclass
class Weights:
    """Tensors by variable name, plus any the program does not name, and a sentence for the model panel."""

    by_name: dict[str, Tensor] = field(default_factory=dict)
    unnamed: dict[str, Tensor] = field(default_factory=dict)
    note: str = ""
    source: Path | None = None


def inside(folder: Path, candidate: Path) -> bool:
    """``candidate`` (symlinks resolved) lies in ``folder``."""
    try:
        return candidate.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def combined_file(model: Path) -> Path | None:
    """The combined parameters file beside a program, if there is one in its folder."""
    if model.name in (
        "__model__",
        "model",
    ):  # old save_inference_model names (model_filename="model", params_filename="params")
        names = ["__params__", "params"]
    else:
        names = [model.stem + ".pdiparams"]
    for name in names:
        candidate = model.parent / name
        if candidate.is_file() and inside(model.parent, candidate):
            return candidate
    return None


def _mismatches(
    stored: Sequence[StoredTensor], names: Sequence[str], shapes: dict[str, tuple[int | None, ...] | None]
) -> int:
    bad = 0
    for s, name in zip(stored, names, strict=True):
        expected = shapes.get(name)
        if expected is not None and all(isinstance(d, int) for d in expected) and tuple(expected) != s.shape:
            bad += 1
    return bad


def bind_combined(
    path: Path, orders: Sequence[Sequence[str]], shapes: dict[str, tuple[int | None, ...] | None], fmt: str
) -> Weights:
    """Name the tensors of a combined file by the first of ``orders`` whose shapes fit."""
    try:
        stored = scan(path, fmt)
    except netray.FormatError as exc:
        return Weights(note=f"{path.name} not read: {exc.reason}", source=path)
    names = list(orders[0]) if orders else []
    if len(stored) != len(names):
        unnamed = {f"{path.name}[{k}]": tensor(f"{path.name}[{k}]", s, path, fmt) for k, s in enumerate(stored)}
        note = (
            f"{path.name} holds {len(stored)} tensors, the program has {len(names)} persistable variables: not matched"
        )
        return Weights(unnamed=unnamed, note=note, source=path)
    best, best_bad = names, _mismatches(stored, names, shapes)
    for order in orders[1:]:
        if best_bad == 0:
            break
        bad = _mismatches(stored, order, shapes)
        if bad < best_bad:
            best, best_bad = list(order), bad
    note = f"{path.name} ({len(stored)} tensors)"
    if best_bad:
        note += f"; {best_bad} tensor shapes differ from the program's"
    return Weights({name: tensor(name, s, path, fmt) for name, s in zip(best, stored, strict=True)}, {}, note, path)


def bind_per_variable(folder: Path, names: Sequence[str], fmt: str) -> Weights:
    """One file per variable, named after it, in the program's folder."""
    found: dict[str, Tensor] = {}
    problems: list[str] = []
    for name in names:
        candidate = folder / name
        if not name or not candidate.is_file():
            continue
        if not inside(folder, candidate):
            problems.append(f"{name} leads outside the folder")
            continue
        try:
            found[name] = tensor(name, scan_single(candidate, fmt), candidate, fmt)
        except netray.FormatError as exc:
            problems.append(f"{name}: {exc.reason}")
    if not found and not problems:
        return Weights(note="no parameters file beside the program: weights not stored")
    note = f"{len(found)} of {len(names)} variables from per-variable files"
    if problems:
        note += "; " + "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    return Weights(found, {}, note, folder)


def bind(
    model: Path,
    sorted_names: Sequence[str],
    program_order: Sequence[str],
    shapes: dict[str, tuple[int | None, ...] | None],
    fmt: str,
) -> Weights:
    """The weights of the program at ``model``, from whatever parameters lie beside it."""
    params = combined_file(model)
    if params is not None:
        return bind_combined(params, [sorted_names, program_order], shapes, fmt)
    if model.name == "__model__":
        return bind_per_variable(model.parent, sorted_names, fmt)
    return Weights(note=f"no {model.stem}.pdiparams beside the program: weights not stored")
