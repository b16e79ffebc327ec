"""netray plugin for Darknet: ``.cfg`` network descriptions and the ``.weights`` beside them."""
