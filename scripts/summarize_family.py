#!/usr/bin/env python
"""Turn bench_family.py JSON lines into BENCHMARKS.md's imitation-family table: one row per
(algorithm, env, env steps), normalised return per seed, BC alone per seed, and the bar it meets.

    python scripts/summarize_family.py bench_results/family/*.jsonl

Bars (issue 29): CartPole-v1 >= 475 within 100k env steps; every other env >= 0.90 normalised.
A later line of the same (algo, env, seed, steps, peer) replaces an earlier one (a rerun).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

ORDER = ("gail", "airl", "dac", "sqil", "iq", "dagger", "bc")


def _bar(env: str, run: dict) -> bool:
    if env == "CartPole-v1":
        return run["learned_return_mean"] >= 475 and run["timesteps"] <= 100_352
    return run["normalised"] >= 0.90


def main(paths: list[str]) -> None:
    runs: dict[tuple, dict] = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if not line.strip().startswith("{"):
                    continue
                run = json.loads(line)
                if "normalised" not in run or "algo" not in run:
                    continue
                key = (run["algo"], run["env"], run["seed"], run["timesteps"], run.get("peer", ""))
                runs[key] = run
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for (algo, env, _, steps, peer), run in sorted(runs.items(), key=lambda kv: str(kv[0])):
        groups[(algo, env, steps, peer)].append(run)
    print("| algo | env | env steps | seeds | normalised per seed | BC alone per seed | meets the bar | env steps/s |")
    print("|---|---|---|---|---|---|---|---|")
    rank = {a: i for i, a in enumerate(ORDER)}
    for (algo, env, steps, peer), group in sorted(groups.items(), key=lambda kv: (kv[0][1], rank.get(kv[0][0], 99))):
        group.sort(key=lambda r: r["seed"])
        seeds = ",".join(str(r["seed"]) for r in group)
        norm = " / ".join(f"{r['normalised']:.3f}" for r in group)
        bc = " / ".join("-" if r.get("bc_normalised") is None else f"{r['bc_normalised']:.3f}" for r in group)
        ok = sum(_bar(env, r) for r in group)
        rates = [r["env_steps_per_second"] for r in group if r.get("env_steps_per_second")]
        rate = f"{min(rates):,.0f}-{max(rates):,.0f}" if rates else "-"
        name = f"{algo} ({peer})" if peer else algo
        print(f"| {name} | {env} | {steps:,} | {seeds} | {norm} | {bc} | {ok} of {len(group)} | {rate} |")


if __name__ == "__main__":
    main(sys.argv[1:])
