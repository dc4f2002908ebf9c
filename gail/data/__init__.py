"""Demonstrations: the file format, compact storage, collection from any policy, experts,
Minari round trips and synthetic data."""
