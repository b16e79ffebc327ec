"""netray plugin for ncnn: ``.param`` / ``.param.bin`` graphs and the ``.bin`` weights beside them."""
