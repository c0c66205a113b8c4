"""Runs: prepare / train / evaluate / predict per modality, and their outputs."""
