"""Policy feature extractors for board games that SB3 rebuilds by name (``gail/saving/sb3_io.py``)."""
