"""The plugin manager: discovery through entry points, detection by content, dispatch.

Each hook implementation is called on its own, inside a try block, so that one
plugin that raises is reported by name and never takes the others down.

It is also the one place that decides how a model is read as a whole: plugins are
asked to sniff in the order their declared formats fit the file, the winner reads it
with Python's cyclic garbage collector paused (see :func:`gc_paused`), and the core
then gives every node its stable id (:mod:`netray.ids`).
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from netray import hookspecs
from netray.declared import EXTENSION, PATTERN, Probe, best_match, score
from netray.entry_points import entry_points
from netray.errors import FormatError, NoReaderError, PluginError, RunError
from netray.hookspecs import CONTRACT_VERSION, Claim, FormatInfo, OpInfo

if TYPE_CHECKING:
    from netray.costs import Formula
    from netray.runtime import Runtime
from netray.ids import assign_ids
from netray.ir import Model

HOOK_NAMES = tuple(name for name in dir(hookspecs) if name.startswith("netray_"))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a plugin builds a model.

    A model is hundreds of thousands of new objects in reference cycles (values and
    nodes point at each other); each allocation burst would trigger a full collection
    over everything alive, and reading would run about 3 times slower. Nothing a
    reader allocates is garbage until the model is dropped, so nothing is lost.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def keep_out_of_collections(freeze: bool) -> None:
    """Move everything alive (the model just shown) out of the collector's sight, or back.

    A shown model lives until another replaces it; Python's full collections would
    otherwise scan all of it (a second and more for 100k nodes) as random pauses
    while the user pans. ``freeze=False`` before reading the next model lets the old
    one be collected.
    """
    if freeze:
        gc.freeze()
    else:
        gc.unfreeze()


def _contract_problem(stated: object) -> tuple[str, bool]:
    """(message, refused) for a plugin's NETRAY_CONTRACT; ("", False) when it is fine."""
    if stated is None:
        return "", False
    text = str(stated)
    try:
        major, minor = (int(x) for x in [*text.split("."), "0"][:2])
        our_major, our_minor = (int(x) for x in CONTRACT_VERSION.split("."))
    except ValueError:
        return f"states contract {text!r}, which is not a version such as {CONTRACT_VERSION!r}", True
    if major > our_major:
        return f"was written for plugin contract {text}; this netray-core speaks {CONTRACT_VERSION}: upgrade netray-core", True
    if major < our_major:
        return f"was written for plugin contract {text}; this netray-core speaks {CONTRACT_VERSION} and may read it wrongly", False
    if minor > our_minor:
        return f"was written for plugin contract {text}; this netray-core speaks {CONTRACT_VERSION}: hooks it relies on may be missing", False
    return "", False

ENTRY_POINT_GROUP = "netray.plugins"
HEAD_BYTES = 4096


@dataclass
class PluginRecord:
    """One discovered plugin and how it fared."""

    name: str
    distribution: str = ""
    version: str = ""
    formats: tuple[FormatInfo, ...] = ()
    error: str = ""  # set when the plugin failed to import or register
    contract: str = ""  # the contract version the plugin states it was written for
    problems: tuple[str, ...] = ()  # loaded, but something is wrong (a misspelt hook, a newer contract)


class PluginManager:
    """Holds the registered plugins and dispatches the hooks to them."""

    def __init__(self, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("netray")
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.warnings: list[str] = []
        if load_entry_points:
            self._load_entry_points()

    # -- registration -------------------------------------------------------------
    def _load_entry_points(self) -> None:
        for ep in entry_points(ENTRY_POINT_GROUP):
            record = PluginRecord(name=ep.name, distribution=ep.distribution, version=ep.version)
            try:
                plugin = ep.load()
                self.register(plugin, ep.name, record)
            except Exception as exc:  # a broken plugin is reported, not fatal
                record.error = f"{type(exc).__name__}: {exc}"
                self.records[ep.name] = record
                self.warnings.append(f"plugin {ep.name!r} could not be loaded: {record.error}")

    def register(self, plugin: object, name: str, record: PluginRecord | None = None) -> None:
        """Register a plugin object or module under ``name`` (used by tests and embedders).

        A plugin stating a newer major contract version is refused (kept in ``records``
        with its error); hooks that the contract does not define (a misspelt name) are
        reported as the plugin's problems, as pluggy's ``check_pending`` would.
        """
        if self.pm.has_plugin(name):
            return
        record = record or PluginRecord(name=name)
        stated = getattr(plugin, "NETRAY_CONTRACT", None)
        record.contract = "" if stated is None else str(stated)
        message, refused = _contract_problem(stated)
        if refused:
            record.error = message
            self.records[name] = record
            self.warnings.append(f"plugin {name!r} not loaded: it {message}")
            return
        problems = [f"it {message}"] if message else []
        self.pm.register(plugin, name=name)
        problems.extend(self._unknown_hooks(plugin))
        record.problems = tuple(problems)
        self.warnings.extend(f"plugin {name!r}: {p}" for p in problems)
        formats: list[FormatInfo] = []
        for _, value in self._call_each("netray_formats", {}, path=None, only=name):
            if value:
                formats.extend(value)
        record.formats = tuple(formats)
        self.records[name] = record

    def _unknown_hooks(self, plugin: object) -> list[str]:
        """Hook implementations of ``plugin`` that no spec names (pluggy's check_pending, per plugin)."""
        problems = []
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.spec is None:
                close = difflib.get_close_matches(caller.name, HOOK_NAMES, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"implements {caller.name}, which is not a netray hook{hint}")
        return problems

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.records.pop(name, None)

    def plugin_names(self) -> list[str]:
        return [name for name, _ in self.pm.list_name_plugin()]

    # -- calling hooks one implementation at a time ---------------------------------
    def _impls(self, hook: str, only: str | None = None) -> list[pluggy.HookImpl]:
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        if only is not None:
            impls = [i for i in impls if i.plugin_name == only]
        return list(reversed(impls))  # registration order

    def _call_each(
        self, hook: str, kwargs: dict[str, Any], path: Path | None, only: str | None = None
    ) -> list[tuple[str, Any]]:
        results = []
        for impl in self._impls(hook, only):
            args = {k: kwargs[k] for k in impl.argnames}
            try:
                results.append((impl.plugin_name, impl.function(**args)))
            except (FormatError, RunError):
                raise
            except Exception as exc:
                if hook == "netray_load" or hook == "netray_load_object":
                    raise PluginError(path or "<object>", impl.plugin_name, exc) from exc
                self.warnings.append(f"plugin {impl.plugin_name!r} failed in {hook}: {type(exc).__name__}: {exc}")
        return results

    # -- what the rest of netray uses ---------------------------------------------------
    def formats(self) -> list[tuple[PluginRecord, FormatInfo]]:
        return [(r, f) for r in self.records.values() for f in r.formats]

    def sniff_order(self, probe: Probe) -> list[tuple[str, FormatInfo | None, float]]:
        """Every plugin with its best-fitting declared format and that fit, best first.

        Plugins whose declarations do not fit come last (score 0): their sniff may
        still recognise what their declarations cannot express.
        """
        order = []
        for name, record in self.records.items():
            if not self.pm.has_plugin(name):
                continue
            found = best_match(probe, list(record.formats))
            order.append((name, *(found if found else (None, 0.0))))
        order.sort(key=lambda entry: -entry[2])  # stable: registration order among equals
        return order

    def detect(self, path: Path) -> tuple[str, Claim] | None:
        """The plugin and claim with the highest confidence for ``path``, or None.

        Plugins are asked in the order their declarations fit the file; a claim of
        1.0 (the content proves it) ends the asking. A plugin without a sniff hook
        claims its best-fitting declared format with the fit as its confidence.
        """
        probe = Probe.of(path, read_head(path))
        best: tuple[str, Claim] | None = None
        sniffers = {impl.plugin_name for impl in self._impls("netray_sniff")}
        for name, declared, fit in self.sniff_order(probe):
            if name in sniffers:
                answers = self._call_each("netray_sniff", {"path": path, "head": probe.head}, path, only=name)
                claim = answers[0][1] if answers else None
            else:
                claim = Claim(declared.name, min(fit, 1.0)) if declared is not None else None
            if isinstance(claim, Claim) and (best is None or claim.confidence > best[1].confidence):
                best = (name, claim)
                if claim.confidence >= 1.0:
                    break
        return best

    def load(self, path: str | Path) -> Model:
        """Read a model file with the plugin that claims it best; every node gets its stable id."""
        path = Path(path)
        if not path.exists():
            raise FormatError(path, "", "no such file or folder")
        if path.is_file() and path.stat().st_size == 0:
            raise FormatError(path, "", "the file is empty")
        found = self.detect(path)
        if found is None:
            raise self._no_reader(path)
        plugin_name, claim = found
        with gc_paused():
            answers = self._call_each("netray_load", {"path": path, "format": claim.format}, path, only=plugin_name)
        for name, model in answers:
            if isinstance(model, Model):
                if model.source is None:
                    model.source = path
                return assign_ids(model)
            raise FormatError(path, claim.format, f"plugin {name!r} claimed the file but returned no model")
        raise FormatError(path, claim.format, f"plugin {plugin_name!r} has no load hook")

    def load_object(self, obj: Any, options: dict[str, Any]) -> Model:
        """Convert an in-memory object with the first plugin that returns a Model.

        Plugins are asked one at a time. One object can look like several kinds (a
        Keras 3 model on the torch backend is also a ``torch.nn.Module``), so a
        plugin's FormatError is kept and the next plugin asked; the first error is
        raised only if no plugin succeeds.
        """
        first_error: FormatError | None = None
        kwargs = {"obj": obj, "options": options}
        for impl in self._impls("netray_load_object"):
            try:
                with gc_paused():
                    model = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except FormatError as exc:
                first_error = first_error or exc
                continue
            except Exception as exc:
                raise PluginError("<object>", impl.plugin_name, exc) from exc
            if isinstance(model, Model):
                return assign_ids(model)
        if first_error is not None:
            raise first_error
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        raise NoReaderError("<object>", f"no installed plugin reads objects of type {kind}")

    def operator_info(self, format: str, domain: str, op: str) -> OpInfo | None:
        for _, info in self._call_each("netray_operator_info", {"format": format, "domain": domain, "op": op}, None):
            if isinstance(info, OpInfo):
                return info
        return None

    def cost_formula(self, format: str, domain: str, op: str) -> Formula | None:
        """The formula for an op: a plugin's answer to ``netray_op_cost`` first, then the core's table."""
        from netray.costs import FORMULAS, Formula
        from netray.opkinds import op_kind

        for name, answer in self._call_each("netray_op_cost", {"format": format, "domain": domain, "op": op}, None):
            if isinstance(answer, Formula):
                return answer
            if isinstance(answer, str) and answer in FORMULAS:
                return FORMULAS[answer]
            if answer is not None:
                self.warnings.append(f"plugin {name!r} answered netray_op_cost for {op!r} with {answer!r}, not a kind or a Formula")
        return FORMULAS.get(op_kind(op))

    def runtime(self, model: Model, name: str = "") -> Runtime:
        """The runtime a plugin offers for ``model``; RunError saying what to install, or that none exists."""
        from netray.runtime import RuntimeMissing, is_runtime

        missing: list[RuntimeMissing] = []
        for _, answer in self._call_each("netray_runtime", {"model": model, "name": name}, model.source):
            if is_runtime(answer):
                return answer  # type: ignore[return-value]
            if isinstance(answer, RuntimeMissing):
                missing.append(answer)
        where = f"{model.source}: " if model.source else ""
        asked = f" {name!r}" if name else ""
        if missing:
            hints = "; ".join(f"{m.runtime}: {m.install}" for m in missing)
            raise RunError(f"{where}{model.format} needs a runtime{asked} that is not installed ({hints})")
        if model.weights_only:
            raise RunError(f"{where}this {model.format} file holds weights only: there is no graph to run")
        runs_with = next((f.runs_with for _, f in self.formats() if f.name == model.format and f.runs_with), "")
        if runs_with and not name:
            raise RunError(f"{where}netray has no runtime for {model.format} models; {runs_with} runs them")
        raise RunError(f"{where}no installed plugin runs {model.format}{asked} models")

    def _no_reader(self, path: Path) -> NoReaderError:
        """The message for a file nobody claimed: which installed or installable plugin should have.

        The installed plugins' declarations and the first-party ones (:mod:`netray.first_party`)
        are matched alike; the best fit wins, an installed plugin on a tie. A format an
        installed plugin declares is thus never sent to ``pip install``.
        """
        from netray.first_party import FIRST_PARTY

        probe = Probe.of(path, read_head(path))
        candidates: list[tuple[float, int, str, FormatInfo | None]] = [(0.0, 0, "", None)]
        for record in self.records.values():
            if self.pm.has_plugin(record.name):
                for declared in record.formats:
                    candidates.append((score(probe, declared), 1, record.distribution or record.name, declared))
        installed = {who for _, _, who, _ in candidates[1:]}
        for distribution, listed in FIRST_PARTY:
            candidates.append((score(probe, listed), 0, distribution, listed))
        fit, _, who, fmt = max(candidates, key=lambda c: (c[0], c[1]))
        if fit < EXTENSION or fmt is None:
            names = ", ".join(sorted(f.name for _, f in self.formats())) or "none"
            return NoReaderError(path, f"no installed plugin recognises this file (formats installed: {names})")
        if who in installed:
            return NoReaderError(path, f"not a readable {fmt.name} file (the {who} plugin did not recognise its content)")
        certainty = "it is" if fit > PATTERN else "it looks like"
        return NoReaderError(path, f"no installed plugin reads this file; {certainty} {fmt.name}", f"pip install {who}")


def read_head(path: Path) -> bytes:
    """The first HEAD_BYTES of a file; empty for a folder or an unreadable file."""
    if not path.is_file():
        return b""
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError:
        return b""


def format_declaration(fmt: FormatInfo) -> dict[str, Any]:
    """A declared format as JSON-ready data (magic bytes as hex, patterns as text)."""
    return {
        "name": fmt.name,
        "extensions": list(fmt.extensions),
        "description": fmt.description,
        "directory": fmt.directory,
        "magic": [{"offset": offset, "hex": data.hex()} for offset, data in fmt.magic_pairs],
        "patterns": [p.decode("latin-1") for p in fmt.patterns],
        "contains": list(fmt.contains),
        "companions": list(fmt.companions),
    }


def format_rows(manager: PluginManager) -> list[dict[str, Any]]:
    """What `netray formats` shows: each plugin with its versions, declared formats and problems."""
    return [
        {
            "plugin": record.name,
            "distribution": record.distribution,
            "version": record.version,
            "contract": record.contract,
            "formats": [format_declaration(f) for f in record.formats],
            "error": record.error,
            "problems": list(record.problems),
        }
        for record in manager.records.values()
    ]


_manager: PluginManager | None = None
_lock = threading.Lock()


def get_manager() -> PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    with _lock:
        if _manager is None:
            from netray import __version__, netrayfile

            _manager = PluginManager()
            builtin = PluginRecord(name="netray-file", distribution="netray-core", version=__version__)
            _manager.register(netrayfile, "netray-file", builtin)  # the one built-in format
        return _manager


def reset_manager(factory: Callable[[], PluginManager] | None = None) -> PluginManager:
    """Replace the process-wide manager (tests use this)."""
    global _manager
    with _lock:
        _manager = None
    if factory is not None:
        _manager = factory()
        return _manager
    return get_manager()


def warn(message: str) -> None:
    print(f"netray: warning: {message}", file=sys.stderr)
