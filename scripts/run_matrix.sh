#!/usr/bin/env bash
# The runs recorded in BENCHMARKS.md: defaults, then each option that changes the outcome.
# Usage: bash scripts/run_matrix.sh OUT_DIR   (about 25 minutes on 2 cores, one run at a time)
set -u
out=${1:-bench_results}
mkdir -p "$out"
b() { python scripts/bench_gail.py "$@" 2>/dev/null | tail -1; }
for s in 0 1 2; do b --env Pendulum-v1 --seed $s --gen-timesteps 300000 --curve-every 30000 >> "$out/pendulum.jsonl"; done
for env in CartPole-v1 genplay/CartPoleFixedHorizon-v0; do
  for s in 0 1 2 3 4; do b --env $env --seed $s >> "$out/cartpole.jsonl"; done
done
for s in 0 1 2; do b --env CartPole-v1 --seed $s --demo-source random --n-demo 60 >> "$out/random_demos.jsonl"; done
for env in CartPole-v1 genplay/CartPoleFixedHorizon-v0; do
  for s in 0 1 2 3 4; do b --env $env --seed $s --set bc_epochs=0 >> "$out/cartpole_no_bc.jsonl"; done
done
for opt in "reward_form=positive" "reward_form=negative" "absorbing=false" "absorbing=false --set reward_form=positive"; do
  for s in 0 1 2; do b --env CartPole-v1 --seed $s --demo-source random --n-demo 60 --set $opt >> "$out/random_demos_options.jsonl"; done
done
for opt in "reward_form=positive" "absorbing=false"; do
  for s in 0 1 2; do b --env CartPole-v1 --seed $s --set $opt >> "$out/cartpole_options.jsonl"; done
done
