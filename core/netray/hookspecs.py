"""The plugin contract: the hooks a format plugin implements.

A plugin is any object or module with functions marked ``@netray.hookimpl`` and
named after the specs below, registered through the entry-point group
``netray.plugins``. Every hook is optional but a format plugin needs
``netray_formats``, ``netray_sniff`` and ``netray_load``. See docs/plugins.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from netray.ir import Category, Model

hookspec = pluggy.HookspecMarker("netray")
hookimpl = pluggy.HookimplMarker("netray")


@dataclass(frozen=True)
class FormatInfo:
    """A format a plugin reads."""

    name: str  # family first: "ONNX", "TFLite", "TensorFlow SavedModel"
    extensions: tuple[str, ...] = ()  # with dot: (".onnx", ".ort")
    description: str = ""
    directory: bool = False  # the format is a folder (SavedModel)


@dataclass(frozen=True)
class Claim:
    """A plugin's answer to "is this file yours?"; the highest confidence wins.

    Rough scale: 1.0 the content proves it (magic bytes, a schema probe that parsed);
    0.5 the content fits but proves little; 0.1 the extension alone.
    """

    format: str
    confidence: float


@dataclass
class OpInfo:
    """What a plugin knows about an operator type, shown in the node panel."""

    category: Category = Category.OTHER
    summary: str = ""  # one line
    doc: str = ""  # longer text (markdown or plain)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (name, description)
    outputs: list[tuple[str, str]] = field(default_factory=list)
    attributes: list[tuple[str, str]] = field(default_factory=list)
    since_version: str = ""


@hookspec
def netray_formats() -> list[FormatInfo]:  # type: ignore[empty-body]
    """The formats this plugin reads."""


@hookspec
def netray_sniff(path: Path, head: bytes) -> Claim | None:  # type: ignore[empty-body]
    """Claim the file (or folder) at ``path`` or not.

    ``head`` holds its first bytes (up to 4 KiB; empty for a folder). Must be cheap
    and must not raise for files that are not yours: return None.
    """


@hookspec
def netray_load(path: Path, format: str) -> Model | None:  # type: ignore[empty-body]
    """Read ``path`` as ``format`` (a name this plugin claimed) into a Model.

    Read structure only; give tensors loaders. Raise ``netray.FormatError`` for any
    problem with the file. Never execute code from the file.
    """


@hookspec
def netray_load_object(obj: Any, options: dict[str, Any]) -> Model | None:  # type: ignore[empty-body]
    """Turn an in-memory object (an ``onnx.ModelProto``, a ``torch.nn.Module`` ...) into a Model.

    Return None for objects this plugin does not know. ``options`` carries
    keyword arguments of ``netray.load_model`` (e.g. ``example_inputs``).
    """


@hookspec
def netray_operator_info(format: str, domain: str, op: str) -> OpInfo | None:  # type: ignore[empty-body]
    """Documentation and category of an operator of ``format``; None when unknown."""
