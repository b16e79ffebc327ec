"""Damaged TorchScript archives give one line; torch's C++ warnings never reach stderr.

Regressions of the mutation fuzz (tests/test_fuzz_shared_models.py): torch.jit.load's
errors span many lines (the compiler quotes the serialized source under the message),
torch's C++ code printed ``[W... Quantizer.cpp:111] Warning: ...`` to stderr on a valid
quantized archive, and a zip whose entries claim a newer zip version made the sniffers
of three plugins raise ``NotImplementedError``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from netray import FormatError
from netray.plugins import PluginManager

pytest.importorskip("torch")
plugin = pytest.importorskip("netray_torchscript.plugin")

from netray_torchscript.reader import read_torchscript  # noqa: E402
from netray_torchscript.torch_messages import native_warning, one_line  # noqa: E402


def silero(shared_models: Path, name: str) -> Path:
    return shared_models / "torchscript" / "silero_vad" / name


def rewritten(source: Path, target: Path, member_suffix: str, old: bytes, new: bytes) -> Path:
    """A copy of the archive with one code member edited (the zip rewritten member by member)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
        for info in original.infolist():
            data = original.read(info)
            if info.filename.endswith(member_suffix):
                assert old in data, info.filename
                data = data.replace(old, new, 1)
            copy.writestr(info, data)
    return target


def cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netray.cli", "info", str(path)], capture_output=True, text=True, timeout=300)


def test_a_syntax_error_in_serialized_code_is_one_line_with_its_place(shared_models: Path, tmp_path: Path) -> None:
    path = rewritten(
        silero(shared_models, "silero_vad_v4.jit"), tmp_path / "broken.jit", "/code/__torch__/vad/model/vad_annotator.py",
        b"  training : bool\n", b"  training : -.[]\n",
    )
    with pytest.raises(FormatError) as info:
        read_torchscript(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: PyTorch TorchScript: torch.jit.load failed: expected ")
    assert "(code/__torch__/vad/model/vad_annotator.py, line " in message
    done = cli(path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_torchs_messages_reduced_to_their_first_meaningful_line() -> None:
    compiler = RuntimeError(
        "expected ident but found ']' here:\n"
        'Serialized   File "code/__torch__/torch/nn/modules/conv.py", line 8\n'
        "  _is_full_backz.]nls = []\n"
        "                 ~ <--- HERE\n"
    )
    assert one_line(compiler) == "expected ident but found ']' (code/__torch__/torch/nn/modules/conv.py, line 8)"
    scripted_from = RuntimeError(
        "expected ) but found 'number' here:\n"
        '  File "/opt/conda/lib/python3.8/site-packages/torch/nn/functional.py", line 3939\n'
        "        out_d0 = max(padding[-2], 0)\n"
        'Serialized   File "code/__torch__/torch/nn/functional.py", line 209\n'
        "    erch.neg(torch.0put,_(indding[_5-2]0)\n"
    )
    assert one_line(scripted_from) == "expected ) but found 'number' (code/__torch__/torch/nn/functional.py, line 209)"
    unknown = RuntimeError("\nUnknown type name '__torch__.X':\n  File \"code/__torch__/m.py\", line 5\n  a : __torch__.X\n")
    assert one_line(unknown) == "Unknown type name '__torch__.X' (code/__torch__/m.py, line 5)"
    miniz = RuntimeError(
        "PytorchStreamReader failed reading file data/4: invalid header or archive is corrupted. This is an internal "
        "miniz error. If you are seeing this error, there is a high likelihood that your checkpoint file is corrupted."
    )
    assert one_line(miniz) == "PytorchStreamReader failed reading file data/4: invalid header or archive is corrupted."
    interpreter = RuntimeError(
        "The following operation failed in the TorchScript interpreter.\n"
        "Traceback of TorchScript, serialized code (most recent call last):\n"
        '  File "code/__torch__/m.py", line 10, in forward\n'
        "    _0 = torch.add(x, y)\n"
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (4)\n"
    )
    assert one_line(interpreter) == (
        "RuntimeError: The size of tensor a (3) must match the size of tensor b (4) (code/__torch__/m.py, line 10)"
    )
    assert one_line(RuntimeError("expected a valid token but found '\n' here:\n")) == "expected a valid token but found a line break"
    assert one_line(zipfile.BadZipFile("File is not a zip file")) == "File is not a zip file"
    assert one_line(RuntimeError("")) == "RuntimeError"


def test_native_warnings_become_a_property_not_stderr(shared_models: Path, tmp_path: Path) -> None:
    """silero_model_micro holds quantized tensors: torch 2.13 warns from C++ on loading it."""
    path = shutil.copy(silero(shared_models, "silero_model_micro.jit"), tmp_path / "micro.jit")
    done = cli(Path(path))
    assert done.returncode == 0 and done.stdout
    assert done.stderr == ""
    line = native_warning(
        "[W1204 17:55:01.517929697 Quantizer.cpp:111] Warning: torch.quantize_per_tensor is deprecated. (function operator())"
    )
    assert line == "torch.quantize_per_tensor is deprecated."


def newer_zip_version(source: Path, target: Path) -> Path:
    """The archive with its first central directory entry claiming "version needed to extract" 17.2."""
    data = bytearray(source.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6 : central + 8] = (172).to_bytes(2, "little")
    target.write_bytes(bytes(data))
    return target


def test_a_zip_of_a_newer_version_is_refused_in_one_line(shared_models: Path, tmp_path: Path) -> None:
    path = newer_zip_version(silero(shared_models, "silero_vad_v3.jit"), tmp_path / "newer.jit")
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(path)
    manager = PluginManager()
    with pytest.raises(FormatError) as info:
        manager.load(path)
    assert "\n" not in str(info.value) and "zip file version 17.2" in str(info.value)
    assert manager.warnings == []  # no sniffer (TorchScript, PyTorch, Keras ...) raised
