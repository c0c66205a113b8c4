"""Synthetic data in InHARD's layout: motion patterns, sessions, rendering, writing."""
