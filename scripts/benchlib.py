"""Small helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import json
import resource


def peak_rss_mb() -> float:
    """Peak resident memory of this process or its children, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024.0, 1)


def emit(result: dict, out: str | None) -> None:
    """Print ``result`` as one JSON line (the script's last line) and append it to ``out``."""
    line = json.dumps(result)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")
