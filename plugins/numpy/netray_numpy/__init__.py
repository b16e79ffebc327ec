"""netray's NumPy plugin: ``.npy`` arrays and ``.npz`` archives as weights-only models."""
