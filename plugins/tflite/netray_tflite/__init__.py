"""netray plugin for TensorFlow Lite flatbuffer files (.tflite)."""

from netray_tflite.reader import read_tflite

__all__ = ["read_tflite"]
