"""Benchmark suites: Atari (pixel GAIL, human-normalised scores) and board games (bots, matches,
ratings, presets), and the Ray fan-out they share."""
