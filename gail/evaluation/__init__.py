"""Scores, comparisons, videos, plots, realism scoring and the portable-policy check."""
