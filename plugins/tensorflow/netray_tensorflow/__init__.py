"""netray plugin for TensorFlow graphs: frozen GraphDef, SavedModel and MetaGraph files."""
