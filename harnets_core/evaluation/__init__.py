"""Evaluation: window metrics, timeline (stream) metrics, reports, replay of bags."""
