"""The format the OpenVINO plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "OpenVINO IR"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".xml",),
        "OpenVINO Intermediate Representation: an XML topology (IR v2-v11) with a raw .bin weights file beside it",
        patterns=(rb"<net\s[^>]*\bversion\s*=",),
        companions=("{stem}.bin",),
        runs_with='OpenVINO (pip install openvino)',
    )
]
