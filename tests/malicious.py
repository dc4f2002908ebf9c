"""A pickle payload for the safe-loading tests: unpickling it creates a marker file."""

from __future__ import annotations


class Payload:
    """Unpickling this creates ``path``: the marker that code from a file ran."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))
