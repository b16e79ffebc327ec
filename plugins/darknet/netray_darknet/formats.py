"""The formats the Darknet plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "Darknet"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".cfg", ".weights"),
        "Darknet network description (.cfg, pjreddie's and AlexeyAB's dialects) with its .weights beside it",
        patterns=(rb"(?m)\A(\s*([#;][^\n]*)?\n)*\s*\[(net|network)\]",),
        companions=("{stem}.weights", "{stem}.cfg"),
        runs_with="darknet itself, or OpenCV's dnn module (pip install opencv-python: cv2.dnn.readNetFromDarknet)",
    )
]
