"""netray plugin for PyTorch files: ExportedProgram archives, state_dicts and checkpoints.

Files are read without torch and without executing anything they contain.
"""
