"""Regenerate core/netray/first_party.py from the first-party plugins' declared formats.

The core names the plugin to install for a file no installed plugin reads; it
cannot import plugins that are not installed, so it carries their declarations as
data. Run after changing a plugin's ``netray_<name>/formats.py``:

    python tools/generate_first_party.py

``tests/test_first_party.py`` fails, naming this script, when the table is stale.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "core" / "netray" / "first_party.py"

HEADER = '''"""The first-party plugins' declared formats, for install hints. Generated: do not edit.

Regenerate with ``python tools/generate_first_party.py`` after changing a plugin's
``netray_<name>/formats.py``; tests/test_first_party.py checks that this table
equals the plugins' own declarations.
"""

from netray.hookspecs import FormatInfo

# (distribution, format) for every format of every plugin in plugins/
FIRST_PARTY: tuple[tuple[str, FormatInfo], ...] = (
'''


def plugin_folders() -> list[Path]:
    return sorted(p for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").is_file())


def declared(folder: Path) -> list[tuple[str, object]]:
    """(distribution, FormatInfo) of one plugin folder, from its formats module."""
    name = folder.name
    sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(f"netray_{name}.formats")
    finally:
        sys.path.pop(0)
    return [(f"netray-plugin-{name}", fmt) for fmt in module.FORMATS]


def table_text() -> str:
    rows = [f"    ({dist!r}, {fmt!r}),\n" for folder in plugin_folders() for dist, fmt in declared(folder)]
    return HEADER + "".join(rows) + ")\n"


def main() -> None:
    TARGET.write_text(table_text())
    print(f"wrote {TARGET.relative_to(REPO)}")


if __name__ == "__main__":
    main()
