"""netray plugin for safetensors: weights-only files (``*.safetensors``) and sharded models
(``model.safetensors.index.json`` with its shards beside it)."""
