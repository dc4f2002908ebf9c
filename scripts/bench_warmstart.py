#!/usr/bin/env python
"""Does GAIL keep its BC warm start? One JSON line per (env, seed) run.

For each seed: 20 expert demos (the env family's expert), GAIL with its preset and BC on, the
generator evaluated (deterministic) when PPO starts, i.e. BC alone, and after each of the first
``--rollouts`` rollouts and their updates; ``ratio`` is the normalised return after the rollouts
over BC alone's ((R - random) / (expert - random) both). Board games are evaluated against the
random opponent, the expert there being the preset's bot playing it.

    python scripts/bench_warmstart.py --env Pendulum-v1 --seeds 0,1,2
    python scripts/bench_warmstart.py --env CartPole-v1 --seed 0 --set warm_start=false   # the mechanism off
    python scripts/bench_warmstart.py --env genplay/TicTacToe-v0 --seed 0 --rollouts 4
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from benchlib import ArgumentParser, add_seed_fanout, emit, fan_out_seeds
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize


def parse_settings(items: list[str]) -> dict[str, object]:
    """``FIELD=VALUE`` (``ppo.FIELD=VALUE`` for the PPO settings) as JSON values; bare words stay strings."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --set {item!r}: expected FIELD=VALUE")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out


def apply_settings(config, settings: dict[str, object]):
    """``config`` with ``settings`` by flag name (``ppo.FIELD`` is ``ppo_FIELD``)."""
    from genplay.gail.algos.config import replace

    return replace(config, **{k.replace("ppo.", "ppo_", 1): v for k, v in settings.items()})


class GeneratorPolicy:
    """The generator as GAIL's ``predict`` sees it: observations through its frozen scaling, if any."""

    def __init__(self, model) -> None:
        env = model.get_env()
        self.model, self.norm = model, env if isinstance(env, VecNormalize) else None

    def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        obs = self.norm.normalize_obs(obs) if self.norm is not None else obs
        kwargs = {"action_masks": action_masks} if action_masks is not None else {}
        return self.model.predict(obs, state, episode_start, deterministic, **kwargs)


class Probe(BaseCallback):
    """Evaluates the generator when PPO starts (after BC) and after each rollout's update; stops
    training after ``rollouts`` updates (the run's budget, and with it PPO's lr schedule, is the
    full run's: a budget of two rollouts would anneal the second update's step size to 0)."""

    def __init__(self, evaluate, rollouts: int) -> None:
        super().__init__()
        self.evaluate, self.rollouts, self.points = evaluate, rollouts, []

    def _on_training_start(self) -> None:
        self.points.append((int(self.model.num_timesteps), self.evaluate(GeneratorPolicy(self.model))))

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps > self.points[-1][0]:
            self.points.append((int(self.model.num_timesteps), self.evaluate(GeneratorPolicy(self.model))))

    def _on_step(self) -> bool:
        return len(self.points) <= self.rollouts


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="Pendulum-v1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-demo", type=int, default=20, help="expert demo episodes")
    p.add_argument("--rollouts", type=int, default=2, help="GAIL rollouts (and updates) after BC")
    p.add_argument("--budget", type=int, default=100_000, help="the run's planned steps (PPO's lr schedule)")
    p.add_argument("--eval-episodes", type=int, default=None, help="default: 20 (board games: 500 games)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="GAILConfig / ppo.* override")
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    add_seed_fanout(p)
    args = p.parse_args()
    if fan_out_seeds(args):
        return

    import torch

    torch.set_num_threads(1)
    from genplay.envs import EnvFactory
    from genplay.envs.boardgames import game_of
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.presets import preset
    from genplay.gail.data.expert_choice import expert_demos
    from genplay.gail.evaluation.evaluate import episode_returns, normalized_return
    from genplay.gail.runs.pipeline import train_gail

    board = game_of(args.env) is not None
    n_eval = args.eval_episodes or (500 if board else 20)
    eval_env = EnvFactory(args.env, kwargs={"opponent": "random"}) if board else EnvFactory(args.env)
    demos = expert_demos(args.env, args.n_demo, seed=30_000 + args.seed)
    expert = float(expert_demos(eval_env, n_eval, seed=60_000).episode_returns().mean())
    random = float(episode_returns(eval_env, "random", n_eval, seed=60_000).mean())
    config = apply_settings(replace(preset(args.env), seed=args.seed), parse_settings(args.set))

    def evaluate(policy) -> float:
        return float(episode_returns(eval_env, policy, n_eval, seed=50_000 + args.seed).mean())

    probe = Probe(evaluate, args.rollouts)
    rollout = config.run.n_envs * config.ppo.n_steps
    start = time.time()
    trainer = train_gail(args.env, demos, args.budget, config=config, callback=probe)
    bc, after = probe.points[0][1], probe.points[-1][1]
    assert len(probe.points) == args.rollouts + 1, probe.points
    norm = {k: normalized_return(v, expert, random) for k, v in (("bc", bc), ("after", after))}
    train_returns = [round(h["true_return"], 2) for h in trainer.history if "true_return" in h]
    result = {
        "env": args.env,
        "seed": args.seed,
        "n_demo": args.n_demo,
        "rollouts": args.rollouts,
        "rollout_steps": rollout,
        "budget": args.budget,
        "bc_return": round(bc, 3),
        f"return_after_{args.rollouts}_rollouts": round(after, 3),
        "bc_normalised": round(norm["bc"], 4),
        "normalised_after": round(norm["after"], 4),
        "ratio": round(norm["after"] / norm["bc"], 4) if norm["bc"] > 0 else None,
        "curve": [(s, round(r, 3)) for s, r in probe.points],
        "training_returns": train_returns,
        "expert_return": round(expert, 3),
        "random_return": round(random, 3),
        "eval_episodes": n_eval,
        "settings": {k: v for k, v in dataclasses.asdict(config).items() if k != "ppo"} | {"ppo": config.ppo.__dict__},
        "overrides": parse_settings(args.set),
        "wall_s": round(time.time() - start, 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
