"""The plugin contract: the hooks a format plugin implements.

A plugin is any object or module with functions marked ``@netray.hookimpl`` and
named after the specs below, registered through the entry-point group
``netray.plugins``. Every hook is optional but a format plugin needs
``netray_formats`` and ``netray_load``; ``netray_sniff`` refines what the
declarations of ``netray_formats`` can tell. See docs/plugins.md.

The contract is versioned: :data:`CONTRACT_VERSION` is the version this core speaks.
A plugin states the version it was written for as a module attribute
``NETRAY_CONTRACT = "1.0"``. A plugin written for a newer major version is refused
(named in ``netray formats``); one for a newer minor version is loaded with a warning.

1.1 added ``netray_op_cost`` (costs of a plugin's own operators), 1.2 ``netray_runtime``
(running a model); 1.0 plugins work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from netray.ir import Category, Model

if TYPE_CHECKING:
    from netray.costs import Formula
    from netray.runtime import Runtime, RuntimeMissing

CONTRACT_VERSION = "1.2"

hookspec = pluggy.HookspecMarker("netray")
hookimpl = pluggy.HookimplMarker("netray")

Magic = tuple[int, bytes]


@dataclass(frozen=True)
class FormatInfo:
    """A format a plugin reads, declared as data.

    The declarations drive ``netray formats``, the order plugins are asked to sniff a
    file in, the claim of a plugin without a ``netray_sniff`` hook, and the install
    hint for a file no installed plugin reads. Matching (:mod:`netray.declared`):

    * ``extensions``: lower-case name endings with their dot (``".onnx"``), compound
      (``".param.bin"``) or whole names (``"model.json"``, ``"__model__"``); a hint, never proof.
    * ``magic``: bytes at offset 0, or ``(offset, bytes)`` pairs; any one proves the format.
    * ``patterns``: regular expressions (bytes) searched in the first 4 KiB; a match
      makes the format plausible (text formats: ``rb"^7767517"``, ``rb"<net "``).
    * ``contains``: names a folder (``directory=True``) or a zip archive of the format
      holds: ``"saved_model.pb"``, or ``"code/"`` for a folder inside the archive.
    * ``companions``: files read beside the main one, as glob patterns in its folder where
      ``{stem}`` stands for its name without the last extension (``"{stem}.bin"``,
      ``"*.params"``); shown by ``netray formats``.

    ``runs_with`` names what runs the format when the plugin offers no runtime for it
    (``netray run`` says so): ``"OpenVINO (pip install openvino)"``.
    """

    name: str  # family first: "ONNX", "TFLite", "TensorFlow SavedModel"
    extensions: tuple[str, ...] = ()
    description: str = ""
    directory: bool = False  # the format is a folder (SavedModel, .mlpackage)
    magic: tuple[bytes | Magic, ...] = ()
    patterns: tuple[bytes, ...] = ()
    contains: tuple[str, ...] = ()
    companions: tuple[str, ...] = ()
    runs_with: str = ""

    def __post_init__(self) -> None:
        # Accept bare bytes for offset 0; store (offset, bytes) pairs only.
        pairs = tuple(m if isinstance(m, tuple) else (0, m) for m in self.magic)
        object.__setattr__(self, "magic", pairs)
        object.__setattr__(self, "extensions", tuple(e.lower() for e in self.extensions))

    @property
    def magic_pairs(self) -> tuple[Magic, ...]:
        return self.magic  # type: ignore[return-value]  # normalised in __post_init__


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
    and must not raise for files that are not yours: return None. Optional: a plugin
    without it claims what its declared magic, patterns, contents and extensions match.
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


@hookspec
def netray_op_cost(format: str, domain: str, op: str) -> Formula | str | None:  # type: ignore[empty-body]
    """How to count the cost of an operator of ``format`` (contract 1.1).

    Return a kind of :data:`netray.costs.FORMULAS` (``"conv"``, ``"matmul"``, ``"unary"``,
    ``"data_movement"``...) when the op computes like one, a :class:`netray.costs.Formula`
    of your own, or None to leave it to the core's table (:mod:`netray.opkinds`). Asked
    once per op type of a model.
    """


@hookspec
def netray_runtime(model: Model, name: str) -> Runtime | RuntimeMissing | None:  # type: ignore[empty-body]
    """Load ``model`` (read by this plugin, ``model.source`` its file) into a real runtime (contract 1.2).

    ``name`` is "" for the format's usual runtime, or one the user asked for
    (``"reference"`` for onnx's reference evaluator). Return a :class:`netray.runtime.Runtime`,
    a :class:`netray.runtime.RuntimeMissing` saying what to install when the runtime package
    is absent, or None for models of other plugins and runtimes you do not offer. Import the
    runtime inside the hook: it is never needed to open a file.
    """
