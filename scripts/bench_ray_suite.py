#!/usr/bin/env python
"""The Atari suite sequentially and through Ray (``--ray``), alternating: wall times and the numbers out.

Each run is ``genplay evaluate --suite atari`` in a fresh process (so ``--ray`` pays for starting
Ray, as a user would); the scores of every run must equal the first sequential run's.
Prints one JSON line as its last line.

    python scripts/bench_ray_suite.py --games pong,breakout,freeway --seeds 0,1,2 --episodes 2 --pairs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ArgumentParser, emit


def run(argv: list[str], out: Path) -> tuple[float, dict]:
    """Wall seconds of one suite run, and its results.json."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "genplay", *argv, "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, json.loads((out / "results.json").read_text())


def scores(result: dict) -> dict:
    return {p: {g: v["scores"] for g, v in d["games"].items()} for p, d in result["policies"].items()}


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--games", default="pong,breakout,freeway")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--policy", action="append", default=None, help="suite policies (default: random)")
    p.add_argument("--pairs", type=int, default=2, help="sequential/Ray pairs, alternating")
    p.add_argument("--ray", default="", help="ADDRESS for --ray (default: start Ray here)")
    p.add_argument("--out", default=None, help="also append the JSON line to this file")
    args = p.parse_args()
    policies = [x for pol in args.policy or ["random"] for x in ("--policy", pol)]
    suite = ["evaluate", "--suite", "atari", "--games", args.games, "--seeds", args.seeds, *policies]
    suite += ["--episodes", str(args.episodes)]
    ray_flag = ["--ray", args.ray] if args.ray else ["--ray"]
    times: dict[str, list[float]] = {"sequential": [], "ray": []}
    reference, same = None, True
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.pairs):
            for mode, extra in (("sequential", []), ("ray", ray_flag)):
                seconds, result = run([*suite, *extra], Path(tmp) / f"{mode}{k}")
                times[mode].append(round(seconds, 1))
                reference = reference or result
                same = same and scores(result) == scores(reference) and not result["failed"]
                print(f"{mode} {k}: {seconds:.1f} s", file=sys.stderr, flush=True)
    best = {m: min(t) for m, t in times.items()}
    emit({"bench": "ray_suite", "games": args.games, "seeds": args.seeds, "episodes": args.episodes,
          "policies": args.policy or ["random"], "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
          "wall_s": times, "speedup_best": round(best["sequential"] / best["ray"], 2), "same_scores": same,
          "iqm": {n: d["human_normalized"]["iqm"] for n, d in reference["policies"].items()},
          "scores": scores(reference)}, args.out)  # fmt: skip


if __name__ == "__main__":
    main()
