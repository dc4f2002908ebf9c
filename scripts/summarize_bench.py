#!/usr/bin/env python
"""Turn bench_gail.py JSON lines into the Markdown tables of BENCHMARKS.md.

python scripts/summarize_bench.py bench_results/*.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(paths: list[str]) -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.strip():
                    run = json.loads(line)
                    if "normalized_return" not in run:  # another script's or the imitation peer's line
                        continue
                    opts = ", ".join(f"{k}={v}" for k, v in sorted(run.get("overrides", {}).items())) or "defaults"
                    groups[(run["env"], run["demo_source"], run["n_demo_episodes"], opts)].append(run)
    print(
        "| env | demos | options | seeds | learned return per seed (eval mode) | first step >= 475 per seed "
        "| normalised per seed | BC alone, normalised per seed | expert | random | demo mean | env steps/s | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (env, src, n, opts), runs in groups.items():
        runs.sort(key=lambda r: r["seed"])
        per_seed = " / ".join(f"{r['learned_return_mean']:.1f}" for r in runs)
        if src == "random":  # the sanity check: learned return as a multiple of the demos' return
            per_seed += " = " + " / ".join(f"{r['learned_return_mean'] / r['demo_return_mean']:.2f}x" for r in runs)
            per_seed += " demos"
        hits = " / ".join(str(r.get("first_step_curve_reached_475")) for r in runs)
        norm = " / ".join(f"{r['normalized_return']:.3f}" for r in runs)
        bc = " / ".join(f"{r['bc_normalized_return']:.3f}" if "bc_normalized_return" in r else "-" for r in runs)
        sps = sum(r["env_steps_per_second"] for r in runs) / len(runs)
        wall = sum(r["wall_seconds_gail_train"] for r in runs) / len(runs)
        print(
            f"| {env} | {n} {src} | {opts} | {len(runs)} | {per_seed} ({runs[0]['eval_mode']}) | {hits} "
            f"| {norm} | {bc} "
            f"| {runs[0]['expert_return']:.1f} | {runs[0]['random_return']:.1f} "
            f"| {sum(r['demo_return_mean'] for r in runs) / len(runs):.1f} "
            f"| {sps:.0f} | {wall:.1f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
