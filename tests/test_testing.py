"""netray.testing catches what it promises to catch: each broken plugin below fails one check."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import netray
import netray.testing


def plugin(**hooks: Any) -> SimpleNamespace:
    """A plugin module stand-in: NETRAY_CONTRACT, one declared format, and the given hooks."""

    @netray.hookimpl
    def netray_formats() -> list[netray.FormatInfo]:
        return [netray.FormatInfo("Fake", (".fake",), magic=(b"FAKE",))]

    base: dict[str, Any] = {"NETRAY_CONTRACT": "1.0", "netray_formats": netray_formats, "__name__": "fake_plugin"}
    for name, function in hooks.items():
        base[name] = netray.hookimpl(function)
    return SimpleNamespace(**base)


def fake_file(tmp_path: Path) -> Path:
    path = tmp_path / "a.fake"
    path.write_bytes(b"FAKE rest")
    return path


def good_load(path: Path, format: str) -> netray.Model:
    g = netray.Graph("main", "main")
    x, y = g.value("x", netray.TensorType("float32", (1, 4))), g.value("y")
    w = g.value("w", netray.TensorType("float32", (4,)))
    w.initializer = netray.Tensor("w", "float32", (4,), loader=lambda: np.zeros(4, np.float32), byte_size=16)
    g.inputs, g.outputs = [x], [y]
    g.add_node(netray.Node("Scale", "s", inputs=[netray.Port("X", [x]), netray.Port("W", [w])], outputs=[netray.Port("Y", [y])]))
    return netray.Model("Fake", [g.link()])


def test_a_good_plugin_passes(tmp_path: Path) -> None:
    (model,) = netray.testing.check_plugin(plugin(netray_load=good_load), [fake_file(tmp_path)], tmp_path / "checks")
    assert model.main.nodes[0].id == "s"


def test_a_missing_contract_version_fails() -> None:
    p = plugin(netray_load=good_load)
    del p.NETRAY_CONTRACT
    with pytest.raises(AssertionError, match="NETRAY_CONTRACT"):
        netray.testing.check_declarations(p)


def test_a_misspelt_hook_fails() -> None:
    with pytest.raises(AssertionError, match="netray_lod"):
        netray.testing.check_declarations(plugin(netray_lod=good_load))


def test_a_sniff_that_raises_on_foreign_input_fails(tmp_path: Path) -> None:
    def sniff(path: Path, head: bytes) -> netray.Claim | None:
        return netray.Claim("Fake", 1.0) if head[:4] == b"FAKE" else None if head else head[10]  # type: ignore[return-value]

    with pytest.raises(AssertionError, match="netray_sniff raised IndexError"):
        netray.testing.check_sniff(plugin(netray_sniff=sniff, netray_load=good_load), tmp_path)


def test_claiming_an_undeclared_format_fails(tmp_path: Path) -> None:
    sniff = lambda path, head: netray.Claim("Other", 0.5) if path.suffix == ".json" else None  # noqa: E731
    with pytest.raises(AssertionError, match="claimed 'Other'"):
        netray.testing.check_sniff(plugin(netray_sniff=sniff, netray_load=good_load), tmp_path)


def test_an_unlinked_graph_fails(tmp_path: Path) -> None:
    def load(path: Path, format: str) -> netray.Model:
        model = good_load(path, format)
        model.main.values["x"].consumers.clear()  # as if link() had not been called
        return model

    with pytest.raises(AssertionError, match=r"graph\.link"):
        netray.testing.check_load(plugin(netray_load=load), fake_file(tmp_path))


def test_a_loader_giving_the_wrong_shape_fails(tmp_path: Path) -> None:
    def load(path: Path, format: str) -> netray.Model:
        model = good_load(path, format)
        model.main.values["w"].initializer.loader = lambda: np.zeros(5, np.float32)  # type: ignore[union-attr]
        return model

    with pytest.raises(AssertionError, match="numpy\\(\\) gave shape"):
        netray.testing.check_load(plugin(netray_load=load), fake_file(tmp_path))


def test_untyped_metadata_fails(tmp_path: Path) -> None:
    def load(path: Path, format: str) -> netray.Model:
        model = good_load(path, format)
        model.metadata["when"] = object()  # type: ignore[assignment]
        return model

    with pytest.raises(AssertionError, match="metadata values are"):
        netray.testing.check_load(plugin(netray_load=load), fake_file(tmp_path))
