#!/usr/bin/env python
"""AIRL's reward transfer (issue 29, target 3): prints ONE JSON line per run as its last line.

1. Demos: 20 episodes of the cached PPO expert on Pendulum-v1 (g = 10).
2. AIRL (state-only g by default, as in the paper's transfer experiments) and GAIL learn on those
   demos for --imitation-timesteps env steps each; both are scored on g = 10 too.
3. Each run's reward is exported (``genplay reward export``) and read back (``load_reward``).
4. A fresh PPO agent (GAIL's Pendulum generator settings, no demos, no discriminator) trains on
   Pendulum-v1 with g = 12 for --transfer-timesteps steps on each learned reward alone
   (``LearnedRewardVecEnv``): AIRL's ``--part`` (g or f) and GAIL's logit reward.
5. Their true g = 12 returns are normalised between a uniform-random policy and a PPO expert trained
   on the true g = 12 reward (``train_expert(..., env_kwargs={"g": 12.0})``, cached).

    python scripts/bench_airl_transfer.py --seed 0
    python scripts/bench_airl_transfer.py --seed 0 --parts g,f --set disc_use_action=true

Keys: algo, env, seed, normalised_transfer, normalised_transfer_gail, transfer_return_mean(_gail),
expert_return, random_return, normalised_source(_gail) (imitation on g = 10), env_steps_per_second
(AIRL's imitation phase), transfer_env_steps_per_second, and the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from benchlib import ArgumentParser, emit, peak_rss_mb

ENV = "Pendulum-v1"


def parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-demo", type=int, default=20)
    p.add_argument("--source-g", type=float, default=10.0)
    p.add_argument("--target-g", type=float, default=12.0)
    p.add_argument("--imitation-timesteps", type=int, default=100_000, help="AIRL's and GAIL's env steps")
    p.add_argument("--transfer-timesteps", type=int, default=100_000, help="each fresh agent's env steps")
    p.add_argument(
        "--parts",
        default="g",
        help="AIRL's exported reward(s), comma-separated (g, f); the first is normalised_transfer",
    )
    p.add_argument("--no-gail", action="store_true", help="skip GAIL's reward (normalised_transfer_gail: null)")
    p.add_argument(
        "--bc-epochs",
        type=int,
        default=0,
        help="BC warm start of AIRL and GAIL (0: none, as in the paper; measured: "
        "a BC-started discriminator never sees the states a fresh agent explores, and its reward transferred at -0.12)",
    )
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="AIRLConfig override")
    p.add_argument("--keep", default=None, help="keep the runs and rewards in this directory")
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    from genplay.envs import EnvFactory
    from genplay.gail.algos.airl import airl_config, airl_preset, train_airl
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.presets import preset
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.experts import train_expert
    from genplay.gail.evaluation.evaluate import episode_returns, normalized_return
    from genplay.gail.learners.reward_env import reward_rl_preset, train_on_reward
    from genplay.gail.rewards.export import export_reward, load_reward
    from genplay.gail.runs.pipeline import train_gail

    source = EnvFactory(ENV, {"g": args.source_g})
    target = EnvFactory(ENV, {"g": args.target_g})
    overrides = {"disc_use_action": False, "bc_epochs": args.bc_epochs, **parse_set(args.set)}
    airl_cfg = airl_config(airl_preset(ENV), seed=args.seed, torch_threads=1, **overrides)
    gail_cfg = replace(preset(ENV), seed=args.seed, torch_threads=1, bc_epochs=args.bc_epochs)
    work = args.keep or tempfile.mkdtemp(prefix="airl-transfer-")
    n_eval, eval_seed = args.eval_episodes, 50_000 + args.seed

    def score(env, policy, expert_r, random_r) -> tuple[float, float]:
        r = float(episode_returns(env, policy, n_eval, seed=eval_seed).mean())
        return r, normalized_return(r, expert_r, random_r)

    def expert(g: float):  # Pendulum-v1's own g is 10: that expert is the one every benchmark caches
        return train_expert(ENV, env_kwargs=None if g == 10.0 else {"g": g}, verbose=False)

    parts = args.parts.split(",")
    if not parts or any(part not in ("g", "f") for part in parts):
        p.error(f"--parts: expected g, f or both, got {args.parts!r}")
    expert_src = expert(args.source_g)
    demos = collect_demos(source, expert_src, args.n_demo, seed=30_000 + args.seed, metadata={"policy": "ppo-expert"})
    src_expert_r = float(episode_returns(source, expert_src, n_eval, seed=eval_seed).mean())
    src_random_r = float(episode_returns(source, "random", n_eval, seed=60_000 + args.seed).mean())

    t0 = time.perf_counter()
    airl = train_airl(source, demos, args.imitation_timesteps, config=airl_cfg, out_dir=f"{work}/airl", force=True)
    airl_sps = airl.num_timesteps / (time.perf_counter() - t0)
    airl_src = score(source, airl, src_expert_r, src_random_r)
    rewards = {
        f"airl-{part}": load_reward(export_reward(f"{work}/airl", f"{work}/reward-{part}", part=part)) for part in parts
    }
    gail_src = (None, None)
    if not args.no_gail:
        gail = train_gail(source, demos, args.imitation_timesteps, config=gail_cfg, out_dir=f"{work}/gail", force=True)
        gail_src = score(source, gail, src_expert_r, src_random_r)
        rewards["gail"] = load_reward(export_reward(f"{work}/gail", f"{work}/reward-gail"))

    rl_cfg = replace_seed(reward_rl_preset(ENV), args.seed)
    learners, t_transfer, steps_transfer = {}, 0.0, 0
    for name, reward in rewards.items():
        t = time.perf_counter()
        learners[name] = train_on_reward(target, reward, args.transfer_timesteps, config=rl_cfg)
        t_transfer += time.perf_counter() - t
        steps_transfer += learners[name].num_timesteps
    # the g = 12 expert last: trained (or read from the cache) once the transfers are done
    expert_tgt = expert(args.target_g)
    tgt_expert_r = float(episode_returns(target, expert_tgt, n_eval, seed=eval_seed).mean())
    tgt_random_r = float(episode_returns(target, "random", n_eval, seed=60_000 + args.seed).mean())
    transfer = {name: score(target, learner, tgt_expert_r, tgt_random_r) for name, learner in learners.items()}
    for name, (ret, norm) in transfer.items():
        print(f"[transfer] {name}: return {ret:.1f} normalised {norm:.3f}", flush=True)

    gail_t = transfer.get("gail", (None, None))
    res = dict(
        algo="airl",
        env=f"{ENV}(g={args.source_g:g}->{args.target_g:g})",
        seed=args.seed,
        normalised_transfer=round(transfer[f"airl-{parts[0]}"][1], 3),
        normalised_transfer_gail=None if gail_t[1] is None else round(gail_t[1], 3),
        transfer_return_mean=round(transfer[f"airl-{parts[0]}"][0], 2),
        transfer_return_mean_gail=None if gail_t[0] is None else round(gail_t[0], 2),
        expert_return=round(tgt_expert_r, 2),
        random_return=round(tgt_random_r, 2),
        source_return_mean=round(airl_src[0], 2),
        normalised_source=round(airl_src[1], 3),
        source_return_mean_gail=None if gail_src[0] is None else round(gail_src[0], 2),
        normalised_source_gail=None if gail_src[1] is None else round(gail_src[1], 3),
        source_expert_return=round(src_expert_r, 2),
        source_random_return=round(src_random_r, 2),
        env_steps_per_second=round(airl_sps, 1),
        transfer_env_steps_per_second=round(steps_transfer / t_transfer, 1),
        imitation_timesteps=int(airl.num_timesteps),
        transfer_timesteps=args.transfer_timesteps,
        part=parts[0],
        by_part={name: [round(r, 2), round(n, 3)] for name, (r, n) in transfer.items() if name.startswith("airl")},
        state_only=not airl_cfg.reward.disc_use_action,
        airl_reward=airl_cfg.reward.airl_reward,
        n_demo=args.n_demo,
        eval_episodes=n_eval,
        overrides={k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
        peak_rss_mb=peak_rss_mb(),
        loadavg1=round(os.getloadavg()[0], 2),
        ncpu=os.cpu_count(),
    )
    emit(res, args.out)


def replace_seed(config, seed: int):
    from genplay.gail.algos.config import replace

    return replace(config, seed=seed)


if __name__ == "__main__":
    main()
