"""What torch says while reading an archive, made fit for one line.

``torch.jit.load``'s errors span many lines: the TorchScript compiler quotes the
serialized source (``expected ident but found ']' here:`` then the file, the line and
a caret), the zip reader appends a paragraph of advice, the interpreter a traceback.
torch's C++ code also writes warnings (``[W... Quantizer.cpp:111] Warning: ...``)
straight to file descriptor 2, out of reach of Python's ``warnings``. The user sees
one line: the first meaningful line of an error, with the serialized file and line
it points at; warnings become a model property instead of noise on stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator

MAX_LENGTH = 300
# Lines that frame an error rather than state it.
FRAMING = (
    "The following operation failed in the TorchScript interpreter",
    "Traceback of TorchScript",
    "Serialized ",
    'File "',
)
LOCATION = re.compile(r'File "([^"]+)", line (\d+)')
RAISED = re.compile(r"^[A-Za-z_.]*(?:Error|Exception): ")
# The advice torch's zip reader appends to every miniz error.
ADVICE = re.compile(r"\.\s+This is an internal miniz error.*$")
NATIVE_PREFIX = re.compile(r"^\[[WIEF]\d{4} [\d:.]+ [^\]]*\]\s*(Warning:\s*)?")
NATIVE_SUFFIX = re.compile(r"\s*\(function .*\)$")


def one_line(error: BaseException) -> str:
    """The first meaningful line of a torch error, with the serialized file and line it names."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines()]
    stated = [line for line in lines if line and not line.startswith(FRAMING)]
    if lines and lines[0].startswith(FRAMING[0]):
        # The interpreter's traceback: the raised error is its last "...Error: " line.
        raised = [line for line in stated if RAISED.match(line)]
        stated = raised[-1:] or stated
    first = stated[0] if stated else type(error).__name__
    first = ADVICE.sub(".", first)
    first = re.sub(r"(\s+here)?:$", "", first)
    first = re.sub(r"found '$", "found a line break", first)  # the quoted character was one
    # Where in the archive: the serialized code (code/...), not the Python source it was scripted from.
    locations = LOCATION.findall(text)
    inside = [found for found in locations if found[0].startswith("code/")] or locations
    if inside and inside[0][0] not in first:
        first += f" ({inside[0][0]}, line {inside[0][1]})"
    return first if len(first) <= MAX_LENGTH else first[: MAX_LENGTH - 3] + "..."


def native_warning(line: str) -> str:
    """``[W1204 17:55:01.51 Quantizer.cpp:111] Warning: text (function operator())`` -> ``text``."""
    return NATIVE_SUFFIX.sub("", NATIVE_PREFIX.sub("", line.strip()))


@contextlib.contextmanager
def warnings_collected() -> Iterator[list[str]]:
    """Collect, instead of printing, torch's warnings meanwhile: Python's and those its C++ code
    writes to file descriptor 2 (which is pointed at a temporary file for the duration)."""
    collected: list[str] = []
    with warnings.catch_warnings(record=True) as python_warnings:
        warnings.simplefilter("always")
        with _native_stderr_to(collected):
            yield collected
    for caught in python_warnings:  # torch's notices about its own API (torch.jit is deprecated) say nothing of the file
        if not issubclass(caught.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            collected.extend(str(caught.message).strip().splitlines()[:1])


@contextlib.contextmanager
def _native_stderr_to(collected: list[str]) -> Iterator[None]:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no file descriptor 2 (an embedding host): nothing to catch
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(1 << 16).decode("utf-8", "replace")
            collected.extend(native_warning(line) for line in text.splitlines() if line.strip())
