"""Streaming inference: windowed recognizers over timestamped samples, late fusion."""
