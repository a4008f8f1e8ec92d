"""Evaluation: metrics of reconstruction, disentanglement and neutralization (numpy)."""
