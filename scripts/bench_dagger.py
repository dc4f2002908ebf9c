"""DAgger benchmark (issue 29 target 4, issue 31's DAgger part): one JSON line per run.

Board games: ``--n-demo`` games of the preset bot (the game's demo opponents) as D_0, the oracle
(``--expert``, default the preset bot: tic-tac-toe's solver, connect four's mcts:200) queried on
every state the learner visits, then ``--eval-games`` games with each colour against random and
against the oracle (``gail.suites.boardgames.play_both_colours``). Classic control: ``--n-demo``
episodes of the family's expert (cached PPO, scripted) and the same expert as the oracle; the
return over 50 episodes normalised between random (0) and the expert (1). Keys: env, seed, n_demo,
expert, rounds, timesteps, expert_queries, dataset_size, per_round (learner agreement with the
oracle on the round's fresh states, fit_agreement on the aggregate after the fit, BC epochs, train and
held-out loss, rollout and fit seconds per round), the learner's symmetric_policy and net_arch
(``--symmetric-policy``, ``--net-arch``) and the DAggerConfig fields of ``LEARNER_FLAGS`` (extractor,
soft targets, regret weight, BC patience, fixed held-out split), vs_random / vs_oracle
(win/draw/loss counts, board games) or learned_return_mean / expert_return / random_return /
normalised, wall_s.

    OMP_NUM_THREADS=1 python scripts/bench_dagger.py --env genplay/TicTacToe-v0 --seed 0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib
from benchlib import ArgumentParser, run_main  # noqa: E402

from genplay.envs.board_bots import check_bot_spec  # noqa: E402
from genplay.envs.boardgames import game_of  # noqa: E402
from genplay.errors import GenplayError  # noqa: E402
from genplay.gail.algos.dagger_config import EXTRACTORS, DAggerConfig, dagger_preset  # noqa: E402
from genplay.gail.data.expert_choice import expert_demos  # noqa: E402
from genplay.gail.runs.dagger_run import train_dagger  # noqa: E402
from genplay.gail.suites.boardgame_presets import board_preset  # noqa: E402
from genplay.generative.core import set_torch_threads  # noqa: E402

DEFAULTS = {  # env id -> (demo episodes, rollout env steps, rounds; None: the preset's, dagger_preset)
    "genplay/TicTacToe-v0": (50, 8_000, None),
    "genplay/ConnectFour-v0": (200, 40_000, None),
    "genplay/Othello-v0": (50, 12_000, None),
    "CartPole-v1": (20, 10_000, 5),
    "Pendulum-v1": (20, 10_000, 5),
}
ROUND_KEYS = ("round", "beta", "learner_agreement", "fit_agreement", "episode_return", "bc_epochs", "bc_loss",
              "bc_heldout_loss", "rollout_s", "fit_s")  # fmt: skip
"""The per-round figures of ``DAgger.history`` kept in the JSON line (how the learner and the cost evolve)."""


LEARNER_FLAGS = ("features_extractor", "cnn_channels", "cnn_layers", "soft_temperature", "regret_weight", "bc_patience",
                "fixed_holdout", "bc_lr", "bc_batch_size")  # fmt: skip
"""DAggerConfig fields given as flags of the same name (``--cnn-channels``), over the preset's values."""


def record(summary: dict) -> dict:
    """Win/draw/loss counts of ``play_both_colours``' pooled summary."""
    n = summary["n"]
    return {k: int(round(summary[k] * n)) for k in ("win", "draw", "loss")} | {"n": n, "score": summary["score"]}


def hidden_layers(text: str) -> tuple[int, ...]:
    """``"512,512" -> (512, 512)``; anything else is refused by argparse in one line (exit 2)."""
    if text in ("", "none"):
        return ()
    parts = text.split(",")
    if not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers (e.g. 256,256), got {text!r}")
    return tuple(int(p) for p in parts)


def bench_config(args: argparse.Namespace) -> tuple[DAggerConfig, int, int]:
    """The run's DAgger settings (the env's preset, the flags given over it), demo games and rollout steps."""
    env_id = args.env
    n_demo, steps, rounds = DEFAULTS.get(env_id, (20, 10_000, 5))
    n_demo = args.n_demo if args.n_demo is not None else n_demo
    preset = dagger_preset(env_id)
    board = board_preset(env_id)
    config = dataclasses.replace(
        preset,
        seed=args.seed,
        rounds=args.rounds or rounds or preset.rounds,
        expert=args.expert or (preset.expert if preset.expert != "expert" else board.expert if board else "expert"),
    )
    game = game_of(env_id)
    if game is not None and config.expert.partition(":")[0] in ("solver", "mcts", "alphabeta"):
        try:  # refused here, before minutes of demo games, not when the oracle is built
            check_bot_spec(config.expert, game)
        except GenplayError as exc:
            raise GenplayError(f"--expert: {exc}") from None
    if args.beta_schedule:
        config = dataclasses.replace(config, beta_schedule=args.beta_schedule)
    if args.train_opponent is not None:
        config = dataclasses.replace(config, train_opponent=args.train_opponent)
    if args.symmetric_policy is not None:
        config = dataclasses.replace(config, symmetric_policy=args.symmetric_policy == "on")
    if args.net_arch is not None:
        config = dataclasses.replace(config, net_arch=args.net_arch)
    learner = {k: getattr(args, k) for k in LEARNER_FLAGS if getattr(args, k) is not None}
    if "fixed_holdout" in learner:
        learner["fixed_holdout"] = learner["fixed_holdout"] == "on"
    try:  # a bad value is refused here, in one line naming the flag, before minutes of demo games
        config = dataclasses.replace(config, **learner)
    except GenplayError as exc:
        name = next((k for k in learner if f".{k}:" in str(exc)), "")
        raise GenplayError(f"--{name.replace('_', '-')}: {exc}") from None
    for name in ("soft_temperature", "regret_weight"):
        if getattr(config, name) > 0 and not config.expert.startswith("alphabeta:"):
            flag = f"--{name.replace('_', '-')}"
            raise GenplayError(f"--expert: {config.expert!r} gives no move values for {flag} (alphabeta:D does; "
                               f"or pass {flag} 0)")  # fmt: skip
    return config, n_demo, args.timesteps or steps


def run(args: argparse.Namespace) -> dict:
    env_id = args.env
    config, n_demo, steps = bench_config(args)
    board = board_preset(env_id)
    expert, rounds = config.expert, config.rounds
    start = time.perf_counter()
    demos = expert_demos(env_id, n_demo, seed=10_000 + args.seed) if n_demo else None
    env = demos.env_factory if demos is not None else env_id
    trainer = train_dagger(env, demos, steps, config=config)
    train_s = time.perf_counter() - start
    if args.out:  # the run dir (checkpoint.pt, policy.zip): a prior for puct:RUN:N bots
        trainer.save(Path(args.out.replace("{seed}", str(args.seed))))
    out = {"env": env_id, "seed": args.seed, "n_demo": n_demo, "expert": expert, "rounds": rounds,
           "beta_schedule": config.beta_schedule, "train_opponent": config.train_opponent or None,
           "symmetric_policy": config.symmetric_policy, "net_arch": list(config.net_arch),
           **{k: getattr(config, k) for k in LEARNER_FLAGS},
           "timesteps": trainer.num_timesteps,
           "expert_queries": trainer.expert_queries, "dataset_size": len(trainer.data),
           "per_round": [{k: round(h[k], 3) for k in ROUND_KEYS if k in h} for h in trainer.history]}  # fmt: skip
    if board is not None:
        from genplay.gail.suites.boardgames import play_both_colours

        game = game_of(env_id)
        out["vs_random"] = record(play_both_colours(game, trainer, "random", args.eval_games, seed=args.seed)["total"])
        n_oracle = args.oracle_games or args.eval_games
        out["vs_oracle"] = record(play_both_colours(game, trainer, expert, n_oracle, seed=args.seed)["total"])
    else:
        from genplay.gail.data.expert_choice import default_expert
        from genplay.gail.evaluation.evaluate import compare

        policy, _ = default_expert(env_id)
        rows = {r.name: r for r in compare(env_id, {"dagger": trainer}, expert=policy, n_episodes=50, seed=50_000)}
        out.update(learned_return_mean=rows["dagger"].mean, expert_return=rows["expert"].mean,
                   random_return=rows["random"].mean, normalised=rows["dagger"].normalized)  # fmt: skip
    out.update(train_s=round(train_s, 1), wall_s=round(time.perf_counter() - start, 1))
    return out


def parser() -> argparse.ArgumentParser:
    """The script's flags."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True)
    p.add_argument("--seed", type=int, action="append", help="repeatable; default 0")
    p.add_argument("--n-demo", type=int, default=None, help="demo episodes/games (0: none, round 0 = the oracle)")
    p.add_argument("--timesteps", type=int, default=None, help="rollout env steps in all")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--expert", default=None, help="oracle spec (default: the env family's expert)")
    p.add_argument("--beta-schedule", default=None, choices=("exponential", "indicator"))
    p.add_argument("--train-opponent", default=None, help="board games: rollouts' opponent ('': demos')")
    p.add_argument("--symmetric-policy", default=None, choices=("on", "off"), help="board games (default: preset's)")
    p.add_argument(
        "--net-arch",
        type=hidden_layers,
        default=None,
        help="learner's hidden layers, e.g. 512,512, or none (default: preset's)",
    )
    p.add_argument(
        "--features-extractor", default=None, help=f"learner's extractor: {', '.join(EXTRACTORS)} (default: preset's)"
    )
    p.add_argument("--cnn-channels", type=int, default=None, help="board_cnn: channels per convolution")
    p.add_argument("--cnn-layers", type=int, default=None, help="board_cnn: convolutions")
    p.add_argument("--soft-temperature", type=float, default=None, help="alphabeta:D oracle: soft targets at this T")
    p.add_argument("--regret-weight", type=float, default=None, help="alphabeta:D oracle: expected-regret weight")
    p.add_argument("--fixed-holdout", default=None, choices=("on", "off"), help="BC's held-out segments drawn once")
    p.add_argument("--bc-patience", type=int, default=None, help="BC epochs without held-out gain per round")
    p.add_argument("--bc-lr", type=float, default=None, help="BC's Adam step size (default: preset's)")
    p.add_argument("--bc-batch-size", type=int, default=None, help="BC's minibatch rows (default: preset's)")
    p.add_argument("--eval-games", type=int, default=500, help="games with each colour against random")
    p.add_argument("--oracle-games", type=int, default=None, help="games with each colour against the oracle")
    p.add_argument("--out", default=None, help="save each run here ({seed} is replaced by the seed)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    set_torch_threads(1)
    for seed in args.seed or [0]:
        bench_config(argparse.Namespace(**{**vars(args), "seed": seed}))  # every seed's settings checked first
    for seed in args.seed or [0]:
        print(json.dumps(run(argparse.Namespace(**{**vars(args), "seed": seed}))), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    run_main(main)
