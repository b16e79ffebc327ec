"""netray plugin for TensorFlow Lite flatbuffer files (.tflite)."""
