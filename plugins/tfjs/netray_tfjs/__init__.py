"""netray plugin for TensorFlow.js models: a model.json (layers or graph model) and its weight shards.

Reads JSON and raw little-endian shard bytes; never runs JavaScript or imports TensorFlow.
"""
