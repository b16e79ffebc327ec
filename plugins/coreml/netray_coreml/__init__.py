"""netray plugin for Apple Core ML models: ``.mlmodel`` protobufs and ``.mlpackage`` folders."""
