"""netray plugin for OpenVINO IR: an ``.xml`` topology with its ``.bin`` weights beside it."""
