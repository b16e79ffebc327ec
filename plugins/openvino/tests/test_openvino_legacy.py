"""IR v7 and older: layer precisions, ``<blobs>`` of weights and biases, Const layers with a ``custom``
blob, ``Input`` layers and no ``Result`` layers, ``<pre-process>`` and ``<statistics>``.

OpenVINO stopped reading and writing IR v7 in 2022, so these files are written here as text, following
Model Optimizer's v7 output (as in Open Model Zoo's 2019-2020 IRs) and IR v2's ``<convolution_data>``
layers with their blobs directly inside the layer; the weights are numpy arrays written to the .bin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netray
import netray.testing
from netray import Category
from netray.plugins import PluginManager

netray_openvino = pytest.importorskip("netray_openvino")
from netray_openvino import plugin  # noqa: E402


def load(path: Path) -> netray.Model:
    manager = PluginManager(load_entry_points=False)
    manager.register(plugin, "openvino")
    return manager.load(path)


def write_v7(folder: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    blobs = {
        "ss_w": rng.standard_normal(3).astype("<f4"),
        "ss_b": rng.standard_normal(3).astype("<f4"),
        "conv_w": rng.standard_normal((4, 3, 3, 3)).astype("<f4"),
        "conv_b": rng.standard_normal(4).astype("<f4"),
        "shape": np.array([1, -1], "<i8"),
        "fc_w": rng.standard_normal((5, 64)).astype("<f4"),
        "fc_b": rng.standard_normal(5).astype("<f4"),
    }
    at: dict[str, tuple[int, int]] = {}
    offset = 0
    for name, array in blobs.items():
        at[name] = (offset, array.nbytes)
        offset += array.nbytes
    (folder / "legacy.bin").write_bytes(b"".join(a.tobytes() for a in blobs.values()))

    def blob(tag: str, name: str) -> str:
        return f'<{tag} offset="{at[name][0]}" size="{at[name][1]}"/>'

    dims = {
        "x": "<dim>1</dim><dim>3</dim><dim>8</dim><dim>8</dim>",
        "c": "<dim>1</dim><dim>4</dim><dim>4</dim><dim>4</dim>",
    }
    xml = f"""<?xml version="1.0" ?>
<net batch="1" name="legacy" version="7">
	<layers>
		<layer id="0" name="data" precision="FP32" type="Input">
			<output><port id="0">{dims["x"]}</port></output>
		</layer>
		<layer id="1" name="Mul_/Fused_Mul_/FusedScaleShift_" precision="FP32" type="ScaleShift">
			<input><port id="0">{dims["x"]}</port></input>
			<output><port id="3">{dims["x"]}</port></output>
			<blobs>{blob("weights", "ss_w")}{blob("biases", "ss_b")}</blobs>
		</layer>
		<layer id="2" name="conv1" precision="FP32" type="Convolution">
			<data auto_pad="same_upper" dilations="1,1" group="1" kernel="3,3" output="4" pads_begin="1,1" pads_end="1,1" strides="2,2"/>
			<input><port id="0">{dims["x"]}</port></input>
			<output><port id="3">{dims["c"]}</port></output>
			<blobs>{blob("weights", "conv_w")}{blob("biases", "conv_b")}</blobs>
		</layer>
		<layer id="3" name="conv1/relu" precision="FP32" type="ReLU">
			<input><port id="0">{dims["c"]}</port></input>
			<output><port id="1">{dims["c"]}</port></output>
		</layer>
		<layer id="4" name="flatten/shape" precision="I64" type="Const">
			<output><port id="1"><dim>2</dim></port></output>
			<blobs>{blob("custom", "shape")}</blobs>
		</layer>
		<layer id="5" name="flatten" precision="FP32" type="Reshape">
			<input><port id="0">{dims["c"]}</port><port id="1"><dim>2</dim></port></input>
			<output><port id="2"><dim>1</dim><dim>64</dim></port></output>
		</layer>
		<layer id="6" name="fc" precision="FP32" type="FullyConnected">
			<data out-size="5"/>
			<input><port id="0"><dim>1</dim><dim>64</dim></port></input>
			<output><port id="3"><dim>1</dim><dim>5</dim></port></output>
			<blobs>{blob("weights", "fc_w")}{blob("biases", "fc_b")}</blobs>
		</layer>
		<layer id="7" name="prob" precision="FP32" type="SoftMax">
			<data axis="1"/>
			<input><port id="0"><dim>1</dim><dim>5</dim></port></input>
			<output><port id="1"><dim>1</dim><dim>5</dim></port></output>
		</layer>
	</layers>
	<edges>
		<edge from-layer="0" from-port="0" to-layer="1" to-port="0"/>
		<edge from-layer="1" from-port="3" to-layer="2" to-port="0"/>
		<edge from-layer="2" from-port="3" to-layer="3" to-port="0"/>
		<edge from-layer="3" from-port="1" to-layer="5" to-port="0"/>
		<edge from-layer="4" from-port="1" to-layer="5" to-port="1"/>
		<edge from-layer="5" from-port="2" to-layer="6" to-port="0"/>
		<edge from-layer="6" from-port="3" to-layer="7" to-port="0"/>
	</edges>
	<pre-process mean-precision="FP32" reference-layer-name="data">
		<channel id="0"><mean value="104.0"/></channel>
		<channel id="1"><mean value="117.0"/></channel>
		<channel id="2"><mean value="123.0"/></channel>
	</pre-process>
	<statistics>
		<layer><name>conv1</name><min>0.0</min><max>5.0</max></layer>
	</statistics>
	<meta_data>
		<MO_version value="2019.3.0-408-gac8584cb7"/>
		<cli_parameters>
			<data_type value="FP32"/>
			<framework value="caffe"/>
			<generate_deprecated_IR_V7 value="True"/>
		</cli_parameters>
	</meta_data>
</net>
"""
    path = folder / "legacy.xml"
    path.write_text(xml)
    return path, blobs


def test_ir_v7_blobs_become_weights_with_inferred_shapes(tmp_path: Path) -> None:
    path, blobs = write_v7(tmp_path)
    model = load(path)
    graph = model.main
    assert (model.format_version, model.producer, model.producer_version) == (
        "v7",
        "Model Optimizer",
        "2019.3.0-408-gac8584cb7",
    )
    assert [n.op for n in graph.nodes] == ["ScaleShift", "Convolution", "ReLU", "Reshape", "FullyConnected", "SoftMax"]
    assert [(v.name, v.type.dtype, v.type.shape) for v in graph.inputs] == [("data", "float32", (1, 3, 8, 8))]
    assert [(v.name, v.type.shape) for v in graph.outputs] == [("prob", (1, 5))]  # no Result layers in v7
    scale_shift, conv, relu, reshape, fc, _ = graph.nodes
    assert [p.name for p in conv.inputs] == ["input", "weights", "biases"]
    assert conv.attribute("kernel").value == [3, 3] and conv.attribute("output").value == 4
    assert conv.category is Category.LAYER and conv.metadata["precision"] == "FP32"
    weights = {p.name: p.values[0].initializer for p in conv.inputs[1:]}
    assert weights["weights"].shape == (4, 3, 3, 3) and weights["biases"].shape == (4,)
    assert np.array_equal(weights["weights"].numpy(), blobs["conv_w"])
    assert np.array_equal(weights["biases"].numpy(), blobs["conv_b"])
    fc_weight = fc.inputs[1].values[0].initializer
    assert fc_weight.shape == (5, 64) and np.array_equal(fc_weight.numpy(), blobs["fc_w"])
    assert np.array_equal(scale_shift.inputs[1].values[0].initializer.numpy(), blobs["ss_w"])
    shape = reshape.weights()[0].initializer
    assert shape.dtype == "int64" and shape.numpy().tolist() == [1, -1]
    assert relu.scope == conv.scope == ("conv1",)  # "conv1" and "conv1/relu" group together
    assert model.properties["batch"] == 1
    assert model.properties["statistics"] == "calibration ranges for 1 layers"
    assert model.metadata["pre-process/channel 1/mean"] == 117.0
    assert model.metadata["cli_parameters/generate_deprecated_IR_V7"] is True
    netray.testing.check_plugin(plugin, [path], tmp_path / "check")


def test_ir_v2_layers_with_their_blobs_inside(tmp_path: Path) -> None:
    """IR v2: ``<convolution_data>`` attributes, ``<weights>``/``<biases>`` directly in the layer, FP16 blobs."""
    rng = np.random.default_rng(2)
    conv_w = rng.standard_normal((2, 3, 3, 3)).astype("<f2")
    conv_b = rng.standard_normal(2).astype("<f2")
    (tmp_path / "v2.bin").write_bytes(conv_w.tobytes() + conv_b.tobytes())
    xml = f"""<net Name="v2net" version="2" precision="FP16" batch="1">
    <layers>
        <layer name="in" type="Input" precision="FP16" id="0">
            <output><port id="0"><dim>1</dim><dim>3</dim><dim>5</dim><dim>5</dim></port></output>
        </layer>
        <layer name="conv" type="Convolution" precision="FP16" id="1">
            <convolution_data stride-x="1" stride-y="1" pad-x="1" pad-y="1" kernel-x="3" kernel-y="3" output="2" group="1"/>
            <input><port id="1"><dim>1</dim><dim>3</dim><dim>5</dim><dim>5</dim></port></input>
            <output><port id="2"><dim>1</dim><dim>2</dim><dim>5</dim><dim>5</dim></port></output>
            <weights offset="0" size="{conv_w.nbytes}"/>
            <biases offset="{conv_w.nbytes}" size="{conv_b.nbytes}"/>
        </layer>
    </layers>
    <edges>
        <edge from-layer="0" from-port="0" to-layer="1" to-port="1"/>
    </edges>
</net>
"""
    path = tmp_path / "v2.xml"
    path.write_text(xml)
    model = load(path)
    (conv,) = model.main.nodes
    assert model.main.name == "v2net" and model.format_version == "v2"
    assert conv.attribute("kernel-x").value == 3 and conv.attribute("pad-y").value == 1
    weight = conv.inputs[1].values[0].initializer
    assert (weight.dtype, weight.shape) == ("float16", (2, 3, 3, 3))
    assert np.array_equal(weight.numpy(), conv_w)
    assert np.array_equal(conv.inputs[2].values[0].initializer.numpy(), conv_b)
    assert [(v.name, v.type.dtype) for v in model.main.outputs] == [("conv", "float16")]
