"""netray plugin for ExecuTorch programs (.pte)."""
