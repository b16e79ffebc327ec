"""netray plugin for PaddlePaddle: ``.pdmodel`` / ``__model__`` ProgramDescs, PIR ``.json`` programs, ``.pdiparams`` weights."""
