"""The errors netray raises for the user's files."""

from __future__ import annotations

from pathlib import Path


class FormatError(Exception):
    """A file could not be read: names the file, the format tried and what is wrong.

    Every reader failure becomes one of these; the CLI prints ``str(error)`` as one
    line and the viewer shows it in a message.
    """

    def __init__(self, path: str | Path, format: str, reason: str) -> None:
        self.path = str(path)
        self.format = format
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        fmt = f"{self.format}: " if self.format else ""
        return f"{self.path}: {fmt}{self.reason}"


class NoReaderError(FormatError):
    """No installed plugin claims the file. ``hint`` names a distribution to install, if known."""

    def __init__(self, path: str | Path, reason: str, hint: str = "") -> None:
        self.hint = hint
        super().__init__(path, "", reason + (f"; {hint}" if hint else ""))


class PluginError(FormatError):
    """A plugin failed in an unexpected way; the message names the plugin."""

    def __init__(self, path: str | Path, plugin: str, error: BaseException) -> None:
        self.plugin = plugin
        self.error = error
        super().__init__(path, "", f"plugin {plugin!r} failed: {type(error).__name__}: {error}")


class RunError(Exception):
    """A run that failed: one readable line (which runtime, which op, what went wrong)."""


class RunCancelled(RunError):
    """The user cancelled the run."""


def first_line(error: BaseException, limit: int = 300, named: bool = True) -> str:
    """An exception's first non-empty line, cut at ``limit``, after its type's name when ``named``
    (``TypeError: ...``); its type's name alone when it says nothing.

    For libraries whose messages run to pages (torch, Keras, TFLite's interpreter) and say
    what went wrong first; :func:`error_line` keeps every line.
    """
    line = next((t.strip() for t in str(error).splitlines() if t.strip()), "")
    if not line:
        return type(error).__name__
    return f"{type(error).__name__}: {line[:limit]}" if named else line[:limit]


def error_line(error: BaseException, limit: int = 300) -> str:
    """An exception's message on one line (whitespace collapsed, cut at ``limit``), or its type's name.

    Libraries' messages span lines (tracebacks, advice); a message box or a RunError wants one.
    """
    return " ".join(str(error).split())[:limit] or type(error).__name__
