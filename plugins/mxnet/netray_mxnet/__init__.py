"""netray plugin for MXNet symbol graphs (``*-symbol.json``) and NDArray weights (``*.params``)."""
