#!/usr/bin/env bash
# The runs behind BENCHMARKS.md's "Second pass (issue 12)" section: the first pass's matrix on the
# current defaults, the two termination-is-success tasks with scripted experts (BC alone is
# measured in every run), pure GAIL beside them, and the absorbing-state ablation.
# Usage: bash scripts/run_matrix_issue12.sh OUT_DIR   (about 30 minutes on 2 idle cores)
set -u
out=${1:-bench_results/issue12}
mkdir -p "$out"
b() { python scripts/bench_gail.py "$@" 2>/dev/null | tail -1; }
for env in CartPole-v1 genplay/CartPoleFixedHorizon-v0; do
  for s in 0 1 2 3 4; do b --env $env --seed $s >> "$out/cartpole.jsonl"; done
done
for s in 0 1 2; do b --env Pendulum-v1 --seed $s --gen-timesteps 300000 --curve-every 30000 >> "$out/pendulum.jsonl"; done
for s in 0 1 2; do b --env CartPole-v1 --seed $s --demo-source random --n-demo 60 >> "$out/random_demos.jsonl"; done
for env in MountainCar-v0 Acrobot-v1; do
  for s in 0 1 2; do b --env $env --seed $s --gen-timesteps 200000 --curve-every 20000 >> "$out/new_tasks.jsonl"; done
  for s in 0 1 2; do
    b --env $env --seed $s --gen-timesteps 200000 --curve-every 20000 --set bc_epochs=0 >> "$out/new_tasks_no_bc.jsonl"
  done
done
for s in 0 1 2; do
  b --env MountainCar-v0 --seed $s --gen-timesteps 200000 --curve-every 20000 --set bc_epochs=0 --set absorbing=false \
    >> "$out/new_tasks_options.jsonl"
done
