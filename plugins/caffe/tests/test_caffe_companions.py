"""Opening a .caffemodel opens the net definition it pairs with, as opening the .prototxt does.

The pairing is the one a .prototxt uses to find its weights: the file of the same name,
else the folder's only .caffemodel. Where two net definitions pair with one .caffemodel
(a model zoo folder's deploy.prototxt and train_val.prototxt), the .caffemodel opens on
its own (it holds its layers too) and says so in one property line.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import netray

MTCNN = "caffe/mtcnn_kpzhang93"
SOLVER = 'net: "train_val.prototxt"\nbase_lr: 0.01\nlr_policy: "step"\nmax_iter: 100\n'


def weights_of(model: netray.Model) -> dict[str, bytes]:
    return {v.name: v.initializer.numpy().tobytes() for v in model.main.weights() if v.initializer is not None}


def test_every_real_caffemodel_opens_the_prototxt_of_its_name(shared_models: Path) -> None:
    for k in (1, 2, 3, 4):
        caffemodel = shared_models / MTCNN / f"mtcnn_det{k}.caffemodel"
        prototxt = caffemodel.with_suffix(".prototxt")
        opened, direct = netray.load_model(caffemodel), netray.load_model(prototxt)
        assert opened.properties["opened from"] == f"mtcnn_det{k}.caffemodel, the weights of mtcnn_det{k}.prototxt (same name)"
        assert [n.op for n in opened.main.nodes] == [n.op for n in direct.main.nodes]
        assert [v.type.shape for v in opened.main.inputs] == [v.type.shape for v in direct.main.inputs]
        assert opened.main.inputs and all(v.type.shape for v in opened.main.inputs)  # the prototxt states them
        assert weights_of(opened) == weights_of(direct) and weights_of(opened)


def zoo_folder(shared_models: Path, folder: Path, prototxts: dict[str, str]) -> Path:
    """A folder as the model zoo lays one out: bvlc.caffemodel beside differently named net definitions."""
    folder.mkdir()
    shutil.copy(shared_models / MTCNN / "mtcnn_det1.caffemodel", folder / "bvlc.caffemodel")
    for name, source in prototxts.items():
        if source == "solver":
            (folder / name).write_text(SOLVER)
        else:
            shutil.copy(shared_models / MTCNN / source, folder / name)
    return folder / "bvlc.caffemodel"


def test_the_only_net_definition_beside_it_is_opened(shared_models: Path, tmp_path: Path) -> None:
    caffemodel = zoo_folder(shared_models, tmp_path / "zoo", {"deploy.prototxt": "mtcnn_det1.prototxt", "solver.prototxt": "solver"})
    model = netray.load_model(caffemodel)
    assert model.properties["opened from"] == "bvlc.caffemodel, the weights of deploy.prototxt (the only net definition beside it)"
    assert model.properties["weights"] == "bvlc.caffemodel (the only .caffemodel in the folder)"
    assert weights_of(model)


def test_two_net_definitions_make_it_open_on_its_own_and_say_why(shared_models: Path, tmp_path: Path) -> None:
    caffemodel = zoo_folder(
        shared_models, tmp_path / "zoo", {"deploy.prototxt": "mtcnn_det1.prototxt", "train_val.prototxt": "mtcnn_det1.prototxt"}
    )
    model = netray.load_model(caffemodel)
    assert "opened from" not in model.properties
    assert model.properties["net definition"] == (
        "2 net definitions pair with it (deploy.prototxt, train_val.prototxt): opened on its own; open one of them for its view"
    )
    assert weights_of(model)  # the binary net, with its own blobs


def test_a_broken_or_foreign_prototxt_leaves_the_caffemodel_on_its_own(shared_models: Path, tmp_path: Path) -> None:
    broken = zoo_folder(shared_models, tmp_path / "broken", {"bvlc.prototxt": "mtcnn_det1.prototxt"})
    broken.with_suffix(".prototxt").write_text("name: 'x'\nlayer {\n  name: 'conv'\n  type: 'Convolution'\n  bogus {{\n")
    model = netray.load_model(broken)
    assert model.properties["net definition"].startswith("bvlc.prototxt beside it not read (not a text NetParameter")
    assert model.properties["net definition"].endswith("): opened on its own")
    foreign = zoo_folder(shared_models, tmp_path / "foreign", {"bvlc.prototxt": "mtcnn_det1.prototxt"})
    foreign.with_suffix(".prototxt").write_text(
        'name: "other"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n'
        'layer {\n  name: "relu_only"\n  type: "ReLU"\n  bottom: "data"\n  top: "out"\n}\n'
    )  # none of the caffemodel's layer names
    model = netray.load_model(foreign)
    assert model.properties["net definition"] == "bvlc.prototxt beside it does not use these weights: opened on its own"
