"""A parameters file opened on its own: its tensors, named by the program beside it when there is one."""

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


def load_params(path: Path) -> Model:
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
