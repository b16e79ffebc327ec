"""netray plugin for GGUF, the llama.cpp / ggml model file: typed key/values, tensors, an inferred graph."""
