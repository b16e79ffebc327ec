"""Broken and hostile IRs: each gives one FormatError line naming the file, none hangs or reads outside.

The IRs here are written as text, in the layout ``openvino.save_model`` writes (IR v11), so that
every fault can be placed exactly; they need no OpenVINO install.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import netray
from netray import FormatError
from netray.plugins import PluginManager

netray_openvino = pytest.importorskip("netray_openvino")
from netray_openvino import plugin, xmlsafe  # noqa: E402

WEIGHT = np.arange(12, dtype="<f4").reshape(3, 4)

LAYERS = """<?xml version="1.0"?>
<net name="small" version="11">
	<layers>
		<layer id="0" name="x" type="Parameter" version="opset1">
			<data shape="2,3" element_type="f32" />
			<output><port id="0" precision="FP32" names="x"><dim>2</dim><dim>3</dim></port></output>
		</layer>
		<layer id="1" name="w" type="Const" version="opset1">
			<data element_type="f32" shape="3, 4" offset="{offset}" size="{size}" />
			<output><port id="0" precision="FP32"><dim>3</dim><dim>4</dim></port></output>
		</layer>
		<layer id="2" name="mm" type="MatMul" version="opset1">
			<data transpose_a="false" transpose_b="false" />
			<input>
				<port id="0" precision="FP32"><dim>2</dim><dim>3</dim></port>
				<port id="1" precision="FP32"><dim>3</dim><dim>4</dim></port>
			</input>
			<output><port id="2" precision="FP32" names="y"><dim>2</dim><dim>4</dim></port></output>
		</layer>
		<layer id="3" name="relu" type="ReLU" version="opset1">
			<input><port id="0" precision="FP32"><dim>2</dim><dim>4</dim></port></input>
			<output><port id="1" precision="FP32" names="z"><dim>2</dim><dim>4</dim></port></output>
		</layer>
		<layer id="4" name="out" type="Result" version="opset1">
			<input><port id="0" precision="FP32"><dim>2</dim><dim>4</dim></port></input>
		</layer>
	</layers>
	<edges>
		{edges}
	</edges>
	<rt_info>
		<info name="OpenVINO Runtime" value="2024.0.0" />
	</rt_info>
</net>
"""
EDGES = (
    '<edge from-layer="0" from-port="0" to-layer="2" to-port="0" />'
    '<edge from-layer="1" from-port="0" to-layer="2" to-port="1" />'
    '<edge from-layer="2" from-port="2" to-layer="3" to-port="0" />'
    '<edge from-layer="3" from-port="1" to-layer="4" to-port="0" />'
)


def write_ir(
    folder: Path, name: str = "small", offset: int = 0, size: int = 48, edges: str = EDGES, text: str | None = None
) -> Path:
    xml = folder / f"{name}.xml"
    xml.write_text(text if text is not None else LAYERS.format(offset=offset, size=size, edges=edges))
    (folder / f"{name}.bin").write_bytes(WEIGHT.tobytes())
    return xml


def load(path: Path) -> netray.Model:
    manager = PluginManager(load_entry_points=False)
    manager.register(plugin, "openvino")
    return manager.load(path)


def test_the_reference_ir_reads(tmp_path: Path) -> None:
    model = load(write_ir(tmp_path))
    assert [n.op for n in model.main.nodes] == ["MatMul", "ReLU"]
    assert np.array_equal(model.main.nodes[0].weights()[0].initializer.numpy(), WEIGHT)
    assert [v.name for v in model.main.outputs] == ["z"]


@pytest.mark.parametrize("fraction", [0.02, 0.1, 0.33, 0.5, 0.77, 0.99])
def test_truncated_xml(tmp_path: Path, fraction: float) -> None:
    full = write_ir(tmp_path).read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(full[: int(len(full) * fraction)])
    with pytest.raises(FormatError) as error:
        netray.load_model(cut)
    assert "cut.xml" in str(error.value) and "\n" not in str(error.value)


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{k} "{("&lol" + (str(k - 1) if k > 1 else "") + ";") * 10}">' for k in range(1, 10)
    )
    path = tmp_path / "laughs.xml"
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE net [{entities}]><net name="&lol9;" version="11"><layers/></net>')
    with pytest.raises(FormatError, match="refused unsafe XML"):
        netray.load_model(path)


def test_external_entities_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    path = tmp_path / "external.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE net [<!ENTITY x SYSTEM "file://{secret}">]><net name="&x;" version="11"><layers/></net>'
    )
    with pytest.raises(FormatError, match="refused unsafe XML"):
        netray.load_model(path)
    with pytest.raises(FormatError, match="refused unsafe XML"):  # the reader itself, whatever the sniffing
        load(path)


def test_an_edge_to_a_missing_layer(tmp_path: Path) -> None:
    path = write_ir(tmp_path, edges=EDGES.replace('to-layer="3" to-port="0"', 'to-layer="9" to-port="0"'))
    with pytest.raises(FormatError, match="names layer '9', which does not exist"):
        load(path)


def test_an_edge_from_a_missing_port(tmp_path: Path) -> None:
    path = write_ir(tmp_path, edges=EDGES.replace('from-layer="2" from-port="2"', 'from-layer="2" from-port="5"'))
    with pytest.raises(FormatError, match="has no output port '5'"):
        load(path)


def test_a_port_fed_twice(tmp_path: Path) -> None:
    path = write_ir(tmp_path, edges=EDGES + '<edge from-layer="0" from-port="0" to-layer="3" to-port="0" />')
    with pytest.raises(FormatError, match="fed twice"):
        load(path)


def test_a_cycle(tmp_path: Path) -> None:
    cyclic = EDGES.replace(
        '<edge from-layer="0" from-port="0" to-layer="2" to-port="0" />',
        '<edge from-layer="3" from-port="1" to-layer="2" to-port="0" />',
    )
    with pytest.raises(FormatError, match="cycle through layers 'mm', 'relu'"):
        load(write_ir(tmp_path, edges=cyclic))


def test_a_const_past_the_end_of_the_bin_opens_and_fails_when_read(tmp_path: Path) -> None:
    model = load(write_ir(tmp_path, offset=1 << 40))
    assert model.properties["constants past the end of the weights file"] == "1: 'w'"
    (weight,) = model.main.nodes[0].weights()
    with pytest.raises(FormatError, match="past the end of the file") as error:
        weight.initializer.numpy()
    assert "small.bin" in str(error.value)


def test_a_const_whose_size_does_not_fit_its_shape(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="12 elements of float32 take 48 bytes, the layer says size=40"):
        load(write_ir(tmp_path, size=40))


@pytest.mark.parametrize("offset", ["-4", "1e3", "", "0x10"])
def test_a_const_offset_that_is_not_a_count(tmp_path: Path, offset: str) -> None:
    text = LAYERS.format(offset=offset, size=48, edges=EDGES)
    with pytest.raises(FormatError, match=r"offset=.* is not a non-negative integer"):
        load(write_ir(tmp_path, text=text))


def test_a_missing_bin(tmp_path: Path) -> None:
    path = write_ir(tmp_path)
    (tmp_path / "small.bin").unlink()
    model = load(path)
    (weight,) = model.main.nodes[0].weights()
    assert not weight.initializer.has_data
    assert model.properties["weights file"] == "absent (small.bin): weights not stored, only their types and shapes"


def test_a_bin_opened_without_its_xml(tmp_path: Path) -> None:
    orphan = tmp_path / "orphan.bin"
    orphan.write_bytes(WEIGHT.tobytes())
    with pytest.raises(FormatError):
        netray.load_model(orphan)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links are not available")
def test_a_bin_linking_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.bin").write_bytes(WEIGHT.tobytes())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    path = write_ir(model_dir)
    (model_dir / "small.bin").unlink()
    (model_dir / "small.bin").symlink_to(outside / "secret.bin")
    with pytest.raises(FormatError, match="outside the model's folder"):
        load(path)


def test_a_bin_beside_an_xml_that_is_no_ir_is_not_claimed(tmp_path: Path) -> None:
    (tmp_path / "data.xml").write_text('<?xml version="1.0"?><config><item/></config>')
    weights = tmp_path / "data.bin"
    weights.write_bytes(WEIGHT.tobytes())
    assert plugin.netray_sniff(path=weights, head=weights.read_bytes()[:4096]) is None


def test_duplicate_layer_ids(tmp_path: Path) -> None:
    text = LAYERS.format(offset=0, size=48, edges=EDGES).replace('<layer id="3"', '<layer id="2"')
    with pytest.raises(FormatError, match="two layers have the id 2"):
        load(write_ir(tmp_path, text=text))


def test_not_an_ir_root(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_text('<?xml version="1.0"?><net-like version="11"/>')
    assert plugin.netray_sniff(path=path, head=path.read_bytes()) is None
    from netray_openvino.reader import load as read

    with pytest.raises(FormatError, match=r"root element is <net-like>"):
        read(path)


def test_a_net_without_layers(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_text('<net name="e" version="11"></net>')
    with pytest.raises(FormatError, match="has no <layers>"):
        load(path)


def test_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(b"   \n")
    with pytest.raises(FormatError, match="empty"):
        load(path)


def test_an_oversized_xml_is_refused_before_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_ir(tmp_path)
    with pytest.raises(FormatError, match="more than the 100 an IR topology may take"):
        xmlsafe.read_xml(path, max_bytes=100)


def test_deeply_nested_bodies_stop(tmp_path: Path) -> None:
    """A Loop inside a Loop ... 40 levels deep: refused past the nesting limit, without recursion errors."""
    inner = '<layers><layer id="0" name="p" type="Parameter" version="opset1"><data shape="1" element_type="f32"/><output><port id="0" precision="FP32"><dim>1</dim></port></output></layer></layers><edges/>'
    for depth in range(40):
        inner = (
            f'<layers><layer id="0" name="loop{depth}" type="Loop" version="opset5"><input><port id="0"/></input>'
            f'<output><port id="1"/></output><body>{inner}</body></layer></layers><edges/>'
        )
    path = tmp_path / "deep.xml"
    path.write_text(f'<?xml version="1.0"?><net name="deep" version="11">{inner}</net>')
    with pytest.raises(FormatError, match="bodies nest deeper than"):
        load(path)


def test_random_bytes_with_an_ir_header(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    head = b'<?xml version="1.0"?>\n<net name="r" version="11">\n<layers>\n'
    for k in range(5):
        path = tmp_path / f"noise{k}.xml"
        path.write_bytes(head + rng.bytes(2000))
        with pytest.raises(FormatError) as error:
            netray.load_model(path)
        assert f"noise{k}.xml" in str(error.value)


def test_a_corrupt_string_tensor_fails_when_read(tmp_path: Path) -> None:
    text = LAYERS.format(offset=0, size=48, edges=EDGES).replace(
        'element_type="f32" shape="3, 4" offset="0" size="48"', 'element_type="string" shape="3" offset="0" size="48"'
    )
    model = load(write_ir(tmp_path, text=text))
    (weight,) = model.main.nodes[0].weights()
    with pytest.raises(FormatError, match="string tensor"):
        weight.initializer.numpy()  # the bytes are floats 0..11: the count says 0 strings, not 3
