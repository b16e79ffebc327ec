"""The format the TFLite plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "TFLite"

FORMATS = [FormatInfo(FORMAT, (".tflite", ".lite"), "TensorFlow Lite flatbuffer (LiteRT)", magic=((4, b"TFL3"),))]
