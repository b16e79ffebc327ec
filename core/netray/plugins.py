"""The plugin manager: discovery through entry points, detection by content, dispatch.

Each hook implementation is called on its own, inside a try block, so that one
plugin that raises is reported by name and never takes the others down.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from netray import hookspecs
from netray.entry_points import entry_points
from netray.errors import FormatError, NoReaderError, PluginError
from netray.hookspecs import Claim, FormatInfo, OpInfo
from netray.ir import Model
from netray.known_formats import guess_format

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
        """Register a plugin object or module under ``name`` (used by tests and embedders)."""
        if self.pm.has_plugin(name):
            return
        self.pm.register(plugin, name=name)
        record = record or PluginRecord(name=name)
        formats: list[FormatInfo] = []
        for result in self._call_each("netray_formats", {}, path=None):
            plugin_name, value = result
            if plugin_name == name and value:
                formats.extend(value)
        record.formats = tuple(formats)
        self.records[name] = record

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
            except FormatError:
                raise
            except Exception as exc:
                if hook == "netray_load" or hook == "netray_load_object":
                    raise PluginError(path or "<object>", impl.plugin_name, exc) from exc
                self.warnings.append(f"plugin {impl.plugin_name!r} failed in {hook}: {type(exc).__name__}: {exc}")
        return results

    # -- what the rest of netray uses ---------------------------------------------------
    def formats(self) -> list[tuple[PluginRecord, FormatInfo]]:
        return [(r, f) for r in self.records.values() for f in r.formats]

    def detect(self, path: Path) -> tuple[str, Claim] | None:
        """The plugin and claim with the highest confidence for ``path``, or None."""
        head = b""
        if path.is_file():
            with open(path, "rb") as f:
                head = f.read(HEAD_BYTES)
        best: tuple[str, Claim] | None = None
        for plugin_name, claim in self._call_each("netray_sniff", {"path": path, "head": head}, path):
            if isinstance(claim, Claim) and (best is None or claim.confidence > best[1].confidence):
                best = (plugin_name, claim)
        return best

    def load(self, path: str | Path) -> Model:
        """Read a model file with the plugin that claims it best."""
        path = Path(path)
        if not path.exists():
            raise FormatError(path, "", "no such file or folder")
        if path.is_file() and path.stat().st_size == 0:
            raise FormatError(path, "", "the file is empty")
        found = self.detect(path)
        if found is None:
            raise self._no_reader(path)
        plugin_name, claim = found
        for name, model in self._call_each("netray_load", {"path": path, "format": claim.format}, path, only=plugin_name):
            if isinstance(model, Model):
                if model.source is None:
                    model.source = path
                return model
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
                model = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except FormatError as exc:
                first_error = first_error or exc
                continue
            except Exception as exc:
                raise PluginError("<object>", impl.plugin_name, exc) from exc
            if isinstance(model, Model):
                return model
        if first_error is not None:
            raise first_error
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        raise NoReaderError("<object>", f"no installed plugin reads objects of type {kind}")

    def operator_info(self, format: str, domain: str, op: str) -> OpInfo | None:
        for _, info in self._call_each("netray_operator_info", {"format": format, "domain": domain, "op": op}, None):
            if isinstance(info, OpInfo):
                return info
        return None

    def _no_reader(self, path: Path) -> NoReaderError:
        head = b""
        if path.is_file():
            with open(path, "rb") as f:
                head = f.read(HEAD_BYTES)
        known = guess_format(path, head)
        installed = {r.distribution for r in self.records.values()}
        if known is not None and not known.distribution:
            return NoReaderError(path, f"it looks like {known.name}, which no netray plugin reads yet")
        if known is not None and known.distribution not in installed:
            return NoReaderError(
                path,
                f"no installed plugin reads this file; it looks like {known.name}",
                f"pip install {known.distribution}",
            )
        if known is not None:
            return NoReaderError(path, f"not a readable {known.name} file (the {known.distribution} plugin did not recognise its content)")
        names = ", ".join(sorted(f.name for _, f in self.formats())) or "none"
        return NoReaderError(path, f"no installed plugin recognises this file (formats installed: {names})")


_manager: PluginManager | None = None
_lock = threading.Lock()


def get_manager() -> PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _manager
    with _lock:
        if _manager is None:
            from netray import __version__, netrayfile

            _manager = PluginManager()
            builtin = PluginRecord(name="netray-file", distribution="netray", version=__version__)
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
