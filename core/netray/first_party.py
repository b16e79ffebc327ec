"""The first-party plugins' declared formats, for install hints. Generated: do not edit.

Regenerate with ``python tools/generate_first_party.py`` after changing a plugin's
``netray_<name>/formats.py``; tests/test_first_party.py checks that this table
equals the plugins' own declarations.
"""

from netray.hookspecs import FormatInfo

# (distribution, format) for every format of every plugin in plugins/
FIRST_PARTY: tuple[tuple[str, FormatInfo], ...] = (
    ('netray-plugin-keras', FormatInfo(name='Keras', extensions=('.keras', '.h5', '.hdf5'), description='Keras model: .keras v3 archive or Keras 2 HDF5', directory=False, magic=((0, b'\x89HDF\r\n\x1a\n'),), patterns=(), contains=('config.json', 'model.weights.h5'), companions=())),
    ('netray-plugin-mxnet', FormatInfo(name='MXNet', extensions=('-symbol.json', '.params'), description='MXNet symbol graph (*-symbol.json, any version) with *.params weights beside it', directory=False, magic=((0, b'\x12\x01\x00\x00\x00\x00\x00\x00'),), patterns=(b'\\A\\s*\\{\\s*"nodes"\\s*:\\s*\\[\\s*\\{\\s*"op"',), contains=(), companions=('*-symbol.json', '*.params'))),
    ('netray-plugin-onnx', FormatInfo(name='ONNX', extensions=('.onnx', '.pb'), description='Open Neural Network Exchange model (protobuf)', directory=False, magic=(), patterns=(b'\\A\\x08[\\x01-\\x40]',), contains=(), companions=())),
    ('netray-plugin-onnx', FormatInfo(name='ONNX text', extensions=('.onnxtxt', '.onnxtext'), description='ONNX model in the textual syntax of onnx.parser', directory=False, magic=(), patterns=(b'\\A\\s*<[^>]*ir_version',), contains=(), companions=())),
    ('netray-plugin-pytorch', FormatInfo(name='PyTorch ExportedProgram', extensions=('.pt2',), description='torch.export archive with a serialized JSON graph', directory=False, magic=(), patterns=(), contains=('serialized_exported_program.json', 'models/'), companions=())),
    ('netray-plugin-pytorch', FormatInfo(name='PyTorch state_dict', extensions=('.pt', '.pth', '.bin', '.ckpt', '.pkl', '.tar'), description='torch.save state_dict or checkpoint (zip or legacy)', directory=False, magic=((0, b'\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19'),), patterns=(), contains=('data.pkl',), companions=())),
    ('netray-plugin-tensorflow', FormatInfo(name='TensorFlow GraphDef', extensions=('.pb', '.pbtxt', '.graphdef'), description='frozen TensorFlow GraphDef, binary or text', directory=False, magic=(), patterns=(b'\\A\\x0a[\\x01-\\xff]', b'\\A\\s*node\\s*\\{'), contains=(), companions=())),
    ('netray-plugin-tensorflow', FormatInfo(name='TensorFlow SavedModel', extensions=('.pb', '.pbtxt'), description='TensorFlow SavedModel folder (saved_model.pb + variables/)', directory=True, magic=(), patterns=(), contains=('saved_model.pb', 'saved_model.pbtxt'), companions=('variables/variables.index', 'variables/variables.data-*-of-*', 'fingerprint.pb'))),
    ('netray-plugin-tensorflow', FormatInfo(name='TensorFlow MetaGraph', extensions=('.meta',), description='TensorFlow MetaGraphDef (checkpoint .meta)', directory=False, magic=(), patterns=(b'\\A\\s*meta_info_def\\s*\\{',), contains=(), companions=())),
    ('netray-plugin-tflite', FormatInfo(name='TFLite', extensions=('.tflite', '.lite'), description='TensorFlow Lite flatbuffer (LiteRT)', directory=False, magic=((4, b'TFL3'),), patterns=(), contains=(), companions=())),
    ('netray-plugin-torchscript', FormatInfo(name='PyTorch TorchScript', extensions=('.pt', '.pth', '.jit', '.ptl', '.torchscript'), description='torch.jit.save archive (needs torch)', directory=False, magic=(), patterns=(), contains=('code/', 'constants.pkl'), companions=())),
)
