#!/usr/bin/env bash
# Issue 12's generalisation runs: tasks outside the preset list whose expert ends episodes
# early (termination is success), scripted experts, 20 demos, 3 seeds, defaults; then pure GAIL.
# Usage: bash scripts/run_new_tasks.sh OUT_DIR   (about 15 minutes on 2 cores)
set -u
out=${1:-bench_results}
mkdir -p "$out"
b() { python scripts/bench_gail.py "$@" 2>/dev/null | tail -1; }
for env in MountainCar-v0 Acrobot-v1; do
  for s in 0 1 2; do b --env $env --seed $s --gen-timesteps 200000 --curve-every 20000 >> "$out/new_tasks.jsonl"; done
done
for env in MountainCar-v0 Acrobot-v1; do
  for s in 0 1 2; do b --env $env --seed $s --gen-timesteps 200000 --curve-every 20000 --set bc_epochs=0 >> "$out/new_tasks_no_bc.jsonl"; done
done
