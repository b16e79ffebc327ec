"""A parameters file opened: the program beside it that reads it, or, when there is none (or two),
its tensors on their own, named by the program beside it when their count fits."""

from __future__ import annotations

from pathlib import Path

import netray
from netray import Model
from netray_paddle.formats import PARAMS
from netray_paddle.params import scan, tensor
from netray_paddle.weights import inside


def _sibling_names(path: Path) -> tuple[list[str], str]:
    """Sorted persistable names from the program beside ``path`` (same stem, or __model__ for __params__)."""
    candidates = (
        [path.parent / "__model__"]
        if path.name == "__params__"
        else [path.with_suffix(".pdmodel"), path.with_suffix(".json")]
    )
    for candidate in candidates:
        if not candidate.is_file() or not inside(path.parent, candidate):
            continue
        try:
            if candidate.suffix == ".json":
                from netray_paddle.pir import parameter_names, read_json

                return sorted(parameter_names(read_json(candidate))), candidate.name
            from netray_paddle.program import persistable_names, read_program

            return sorted(persistable_names(read_program(candidate))), candidate.name
        except netray.FormatError:
            continue
    return [], ""


def programs_beside(path: Path) -> list[Path]:
    """The programs that read ``path`` as their parameters: ``x.pdmodel`` or PIR's ``x.json`` for ``x.pdiparams``,
    ``__model__`` (or ``model``) for ``__params__`` (or ``params``) and for a per-variable file."""
    if path.suffix.lower() == ".pdiparams":
        candidates = [path.with_suffix(".pdmodel"), path.with_suffix(".json")]
    elif path.name == "params":
        candidates = [path.parent / "model"]
    else:
        candidates = [path.parent / "__model__"]
    return [c for c in candidates if c.is_file() and inside(path.parent, c)]


def reads_from(model: Model, path: Path) -> bool:
    """Whether a program's weights come from the file ``path``."""
    return any((t.location or "").startswith(f"{path.name} @ ") for _, t in model.all_tensors())


def load_params(path: Path) -> Model:
    """The program beside a parameters file when exactly one reads it; else the parameters alone, saying why."""
    programs = programs_beside(path)
    note = ""
    if len(programs) == 1:
        program = programs[0]
        try:
            if program.suffix == ".json":
                from netray_paddle.pir import load_pir

                model = load_pir(program)
            else:
                from netray_paddle.program import load_program

                model = load_program(program)
        except netray.FormatError as exc:
            note = f"{program.name} beside it not read ({exc.reason}): opened on its own"
        else:
            if reads_from(model, path):
                model.properties["opened from"] = f"{path.name}, the parameters of {program.name}"
                return model
            note = f"{program.name} beside it does not take its weights from {path.name}: opened on its own"
    elif programs:
        note = f"{len(programs)} programs beside it ({', '.join(p.name for p in programs)}): opened on its own; open one of them"
    model = load_params_alone(path)
    if note:
        model.properties["program"] = note
    return model


def load_params_alone(path: Path) -> Model:
    """The tensors of a parameters file, with no graph."""
    stored = scan(path, PARAMS)
    names, program = _sibling_names(path)
    model = Model(PARAMS, [])
    if len(names) == len(stored):
        model.properties["names"] = f"from {program} (its persistable variables, sorted)"
    else:
        if program:
            model.properties["names"] = (
                f"{program} has {len(names)} persistable variables for {len(stored)} tensors: not used"
            )
        names = [f"tensor {k}" for k in range(len(stored))]
    for name, s in zip(names, stored, strict=True):
        model.tensors[name] = tensor(name, s, path, PARAMS)
    model.properties["tensors"] = len(stored)
    return model
