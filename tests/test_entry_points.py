"""netray.entry_points finds what importlib.metadata finds, without importing it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import numpy as np

from netray.arrays import unique
from netray.entry_points import entry_points, normalize

GROUPS = ["netray.plugins", "console_scripts", "pytest11"]


def as_standard(group: str, path: list[str] | None = None) -> list[tuple[str, str, str, str]]:
    """What importlib.metadata finds; on a given path, the first distribution of a name wins as in entry_points()."""
    if path is None:
        eps = list(metadata.entry_points(group=group))
    else:
        first = {}
        for dist in metadata.distributions(path=path):
            first.setdefault(normalize(dist.name), dist)
        eps = [ep for dist in first.values() for ep in dist.entry_points if ep.group == group]
    return sorted((ep.name, ep.value, ep.dist.name, ep.dist.version) for ep in eps if ep.dist is not None)


def as_ours(group: str, path: list[str] | None = None) -> list[tuple[str, str, str, str]]:
    return sorted((ep.name, ep.value, ep.distribution, ep.version) for ep in entry_points(group, path))


def test_same_entry_points_as_importlib_metadata_in_this_environment() -> None:
    for group in GROUPS:
        assert as_ours(group) == as_standard(group), group
    assert {ep.name for ep in entry_points("netray.plugins")} >= {"onnx", "tflite", "keras", "pytorch"}


def write_dist(site: Path, folder: str, header: str, entry_points_txt: str) -> None:
    info = site / folder
    info.mkdir(parents=True)
    (info / ("PKG-INFO" if folder.endswith(".egg-info") else "METADATA")).write_text(header)
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points_txt))


def test_odd_but_valid_installs(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    # Comments, spaces, other groups, an attribute with extras, an egg-info, a name with capitals.
    write_dist(
        first,
        "Fancy_Plugin-2.0.dist-info",
        "Metadata-Version: 2.1\nName: Fancy.Plugin\nVersion: 2.0\n\nLong description: Name: not this\n",
        """
        # a comment
        [console_scripts]
        fancy = fancy.cli:main

        [netray.plugins]
        # another comment
        fancy   =   fancy.plugin:Hooks.instance [extra]
        """,
    )
    write_dist(first, "old_style-0.5-py3.11.egg-info", "Metadata-Version: 1.1\nName: old-style\nVersion: 0.5\n", "[netray.plugins]\nold = old_style\n")
    # The same distribution again later on the path: the first one wins, as in importlib.metadata.
    write_dist(second, "fancy_plugin-1.0.dist-info", "Metadata-Version: 2.1\nName: fancy-plugin\nVersion: 1.0\n", "[netray.plugins]\nfancy = stale\n")
    path = [str(first), str(second), str(tmp_path / "missing"), str(tmp_path / "first" / "not-a-folder.zip")]
    ours = as_ours("netray.plugins", path)
    assert ours == [("fancy", "fancy.plugin:Hooks.instance [extra]", "Fancy.Plugin", "2.0"), ("old", "old_style", "old-style", "0.5")]
    assert ours == as_standard("netray.plugins", path)
    assert normalize("Fancy__Plugin.X") == "fancy-plugin-x"


def test_entry_point_loads_module_and_attribute(tmp_path: Path) -> None:
    (tmp_path / "netray_ep_probe.py").write_text("class Hooks:\n    instance = 'the hooks'\n")
    write_dist(tmp_path, "probe-1.0.dist-info", "Name: probe\nVersion: 1.0\n", "[netray.plugins]\np = netray_ep_probe:Hooks.instance [x]\n")
    sys.path.insert(0, str(tmp_path))
    try:
        (ep,) = entry_points("netray.plugins", [str(tmp_path)])
        assert ep.load() == "the hooks"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("netray_ep_probe", None)


def test_finding_plugins_imports_neither_importlib_metadata_nor_email() -> None:
    code = "import sys; from netray.plugins import get_manager; get_manager(); print(sorted(m for m in ('importlib.metadata', 'email') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unique_is_numpys() -> None:
    rng = np.random.default_rng(7)
    for values in (rng.integers(0, 50, 1000), np.array([], dtype=np.int64), np.array([3]), rng.integers(-5, 5, (4, 6))):
        got = unique(values)
        assert got.dtype == values.dtype
        np.testing.assert_array_equal(got, np.unique(values))
