"""netray plugin for .toynet files; the hooks are in netray_toyfmt.plugin."""
