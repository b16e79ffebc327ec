"""A bare pickle file (no zip, no legacy header) holding tensors: read with the restricted unpickler.

Such files have no separate storage bytes, so tensors inside are listed without values.
"""

from __future__ import annotations

from pathlib import Path

from netray import Model
from netray_pytorch.state_dict import STATE_DICT, build_model
from netray_pytorch.unpickler import restricted_load


def read_pickle(path: Path) -> Model:
    obj, _ = restricted_load(path.read_bytes(), path, STATE_DICT)
    model = build_model(obj, lambda _pt: None, lambda _pt: path.name)
    model.properties["container"] = "pickle"
    return model
