"""``genplay reward``: learned rewards as products (export a run's reward model; train a fresh agent on it).

Kept beside ``cli.py`` (its error rule holds: one ``error:`` line naming the flag, exit 2).

    genplay reward export runs/airl-pendulum --out rewards/pendulum [--part g|f]
    genplay reward train --reward rewards/pendulum --env Pendulum-v1 --env-kwargs '{"g": 12.0}' --out runs/g12
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from genplay.errors import GenplayError


def add_reward_parser(subparsers) -> None:
    """``genplay reward export`` and ``genplay reward train`` (the lead wires this into ``cli.py``)."""
    from genplay.cli_args import nonempty_str, positive_int, seed_int

    r = subparsers.add_parser("reward", help="learned rewards: export a GAIL/AIRL run's reward, train on one")
    actions = r.add_subparsers(dest="reward_action", required=True)
    ex = actions.add_parser("export", help="a GAIL or AIRL run's reward model as safetensors + JSON")
    ex.add_argument("run", help="a `genplay train --algo gail|airl` output dir")
    ex.add_argument("--out", type=nonempty_str, required=True, help="directory for reward.json + reward.safetensors")
    ex.add_argument(
        "--part", choices=("g", "f"), default=None, help="AIRL: g (default, the paper's re-optimised reward) or f"
    )
    ex.add_argument("--force", action="store_true", help="replace a reward already in --out")
    ex.set_defaults(func=cmd_reward_export)
    tr = actions.add_parser("train", help="a fresh PPO agent on a learned reward alone (no demos, no discriminator)")
    tr.add_argument("--reward", type=nonempty_str, required=True, help="a `genplay reward export` directory")
    tr.add_argument("--env", default=None, help="the env to train in (default: the one the reward was learned on)")
    tr.add_argument("--env-kwargs", default=None, help="gym.make arguments as a JSON object, e.g. '{\"g\": 12.0}'")
    tr.add_argument("--timesteps", type=positive_int, default=100_000, help="env steps")
    tr.add_argument("--seed", type=seed_int, default=0)
    tr.add_argument("--out", type=nonempty_str, required=True, help="output dir (policy.zip, history, curve)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint.pt")
    tr.add_argument("--force", action="store_true", help="start over in an --out that holds a run")
    tr.add_argument("--progress", action="store_true", help="show a progress bar")
    tr.set_defaults(func=cmd_reward_train)


def cmd_reward_export(args: argparse.Namespace) -> None:
    from genplay.gail.rewards.export import JSON_NAME, export_reward

    run = Path(args.run)
    if not (run / "checkpoint.pt").is_file():
        raise GenplayError(f"RUN: {run} holds no checkpoint.pt (expected a `genplay train` output dir)")
    out = Path(args.out)
    if (out / JSON_NAME).exists() and not args.force:
        raise GenplayError(f"--out: {out} already holds a reward; pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise GenplayError(f"--out: {out} is not a directory")
    export_reward(run, out, part=args.part)
    print(f"reward exported to {out} ({JSON_NAME} + reward.safetensors)")


def env_from_flags(reward_env: dict, env_id: str | None, env_kwargs: str | None):
    """The training env: ``--env`` (default: the reward's env) with ``--env-kwargs`` (a JSON object)."""
    from genplay.envs import EnvFactory
    from genplay.errors import EnvError

    kwargs = {}
    if env_kwargs is not None:
        try:
            kwargs = json.loads(env_kwargs)
        except ValueError:
            raise GenplayError(f"--env-kwargs: expected a JSON object, got {env_kwargs!r}") from None
        if not isinstance(kwargs, dict):
            raise GenplayError(f"--env-kwargs: expected a JSON object, got {env_kwargs!r}")
    base = EnvFactory.from_dict(reward_env)
    try:
        if env_id is None:
            return EnvFactory(base.env_id, {**base.kwargs, **kwargs}, base.wrappers)
        return EnvFactory(env_id, kwargs)
    except EnvError as exc:
        raise GenplayError(f"--env: {exc}") from None


def cmd_reward_train(args: argparse.Namespace) -> None:
    import dataclasses

    from genplay.gail.learners.reward_env import reward_rl_preset, train_on_reward
    from genplay.gail.rewards.export import load_reward

    reward = load_reward(args.reward)
    env = env_from_flags(reward.model["env"], args.env, args.env_kwargs)
    config = dataclasses.replace(reward_rl_preset(env.env_id), seed=args.seed)
    learner = train_on_reward(
        env,
        reward,
        args.timesteps,
        config=config,
        out_dir=args.out,
        resume=args.resume,
        force=args.force,
        progress_bar=args.progress,
    )
    returns = [r["true_return"] for r in learner.history if math.isfinite(r.get("true_return", math.nan))]
    last = f"last training return {returns[-1]:.1f} (the env's reward)" if returns else "no episode finished"
    policy = Path(args.out) / "policy.zip"
    print(f"trained {learner.num_timesteps} steps on the learned reward; {last}; policy in {policy}")
