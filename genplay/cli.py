"""The ``genplay`` command line. Bad input ends with one ``error:`` line and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys

from genplay.cli_args import (
    ArgumentParser,
    add_config_args,
    add_dataclass_args,
    check_env,
    check_out_dir,
    check_output_file,
    check_policy_arg,
    episode_count,
    nonempty_str,
    positive_int,
    seed_int,
)
from genplay.cli_gail import cmd_gail_train
from genplay.errors import GenplayError, JobsFailed

# ---------------------------------------------------------------------------- commands


def cmd_demo(args: argparse.Namespace) -> None:
    from genplay.gail.runs.pipeline import run_demo

    check_env(args.env)
    check_out_dir(args.out)

    kwargs = dict(n_demo=args.n_demo, subsample=args.subsample, timesteps=args.timesteps, seed=args.seed)
    print(run_demo(env_id=args.env, out_dir=args.out, **kwargs))


def cmd_expert_train(args: argparse.Namespace) -> None:
    args.env = args.env or args.env_id
    if not args.env:
        raise GenplayError("give the env id: genplay expert train --env ENV")
    check_env(args.env)
    from stable_baselines3.common.env_util import make_vec_env

    from genplay.gail.data.experts import evaluate, expert_path, train_expert

    model = train_expert(args.env, seed=args.seed, force=args.force)
    mean, std = evaluate(model, make_vec_env(args.env, n_envs=4, seed=123), 20)
    print(f"expert for {args.env}: return {mean:.1f} +- {std:.1f}; saved at {expert_path(args.env, args.seed)}")


def cmd_demos_collect(args: argparse.Namespace) -> None:
    from genplay.envs import EnvFactory
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.demos import save_demos
    from genplay.gail.data.expert_choice import expert_demos, expert_family
    from genplay.gail.saving.run_files import load_policy

    check_env(args.env)
    check_output_file(args.out, "--out", force=args.force)
    if expert_family(args.env) == "board-bot":
        from genplay.cli_boardgames import board_demos

        demos = board_demos(args)
    else:
        if args.opponent is not None:
            raise GenplayError("--opponent: only for board games (genplay/TicTacToe-v0, ...)")
        if args.n_episodes is None:
            raise GenplayError("--n-episodes: required (only board games have a preset number of games)")
        check_policy_arg(args.policy)
        factory = EnvFactory(args.env)
        if args.policy == "expert":  # the family's expert: scripted, Atari RAM or the cached PPO one
            demos = expert_demos(factory, args.n_episodes, seed=args.seed, progress=True)
        else:
            if args.policy == "random":
                policy, label = "random", "random"
            else:
                policy, label = load_policy(args.policy, env_id=args.env), str(args.policy)
            demos = collect_demos(factory, policy, args.n_episodes, seed=args.seed, metadata={"policy": label})
    save_demos(args.out, demos)
    r = demos.episode_returns()
    summary = f"{demos.n_episodes} episodes ({demos.n_transitions} steps, return {r.mean():.1f} +- {r.std():.1f})"
    print(f"wrote {summary} to {args.out}")


def cmd_demos_info(args: argparse.Namespace) -> None:
    from genplay.gail.data.demos import load_demos

    if args.env is not None:
        check_env(args.env)
    d = load_demos(args.file, env_id=args.env)
    r = d.episode_returns()
    print(
        json.dumps(
            {
                "file": str(args.file),
                "env_id": d.env_id,
                "n_episodes": d.n_episodes,
                "n_transitions": d.n_transitions,
                "terminated_episodes": int(d.terminated.sum()),
                "return_mean": float(r.mean()),
                "return_std": float(r.std()),
                "metadata": d.metadata,
            }
        )
    )


# ---------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from genplay import cli_synth as synth_cli
    from genplay.cli_atari import add_suite_args
    from genplay.cli_evaluate import cmd_evaluate
    from genplay.cli_reward import add_reward_parser
    from genplay.gail.algos.config import GAILConfig
    from genplay.gail.algos.dac_config import DACLearnerConfig
    from genplay.generative.images import cli as images_cli
    from genplay.generative.music import cli as music_cli
    from genplay.generative.text import cli as text_cli

    p = ArgumentParser(prog="genplay", description="Adversarial imitation learning on games.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser(
        "demo", help="expert -> 20 demos, 1 step in 20 kept -> BC and GAIL -> evaluation table and plot (Pendulum)"
    )
    d.add_argument("--env", default="Pendulum-v1")
    d.add_argument("--n-demo", type=positive_int, default=20)
    d.add_argument(
        "--subsample", type=positive_int, default=20, help="keep one transition in N of each demo episode (1: all)"
    )
    d.add_argument("--timesteps", type=positive_int, default=150_000)
    d.add_argument("--out", type=nonempty_str, default="runs/demo")
    d.add_argument("--seed", type=seed_int, default=0)
    d.set_defaults(func=cmd_demo)

    e = sub.add_parser("expert", help="expert policies").add_subparsers(dest="action", required=True)
    et = e.add_parser("train", help="train (or load cached) a PPO expert")
    et.add_argument("env_id", nargs="?", help="env id (same as --env)")
    et.add_argument("--env", default=None)
    et.add_argument("--seed", type=seed_int, default=0)
    et.add_argument("--force", action="store_true", help="retrain even if cached")
    et.set_defaults(func=cmd_expert_train)

    dm = sub.add_parser("demos", help="demonstration files").add_subparsers(dest="action", required=True)
    dc = dm.add_parser("collect", help="roll out a policy and write a demos file")
    dc.add_argument("--env", required=True)
    dc.add_argument(
        "--n-episodes", type=episode_count, default=None, help="episodes (required; board games: the preset's games)"
    )
    dc.add_argument("--out", type=nonempty_str, required=True)
    dc.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    dc.add_argument(
        "--policy",
        default="expert",
        help="expert (scripted where genplay has one, board games: the game's preset search bot, else the cached "
        "PPO expert), random, a gail train output dir or policy zip; board games also solver, mcts:N, alphabeta:D",
    )
    dc.add_argument(
        "--opponent",
        default=None,
        help="board games: the opponent bot(s) of the demo games, e.g. random|mcts:50 (default: the game's preset)",
    )
    dc.add_argument("--seed", type=seed_int, default=0)
    dc.set_defaults(func=cmd_demos_collect)
    di = dm.add_parser("info", help="validate a demos file and print a summary")
    di.add_argument("file")
    di.add_argument("--env", default=None, help="also check the file matches this env")
    di.set_defaults(func=cmd_demos_info)

    sub.add_parser(  # parsed by genplay/cli_train.py (its flags depend on --algo); listed here for --help
        "train", help="train any imitation algorithm: genplay train --algo NAME ... (genplay train --algo NAME --help)"
    )
    g = sub.add_parser("gail", help="GAIL").add_subparsers(dest="action", required=True)
    gt = g.add_parser("train", help="train a policy from demos", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    gt.add_argument("--env", required=True)
    gt.add_argument("--demos", required=True)
    gt.add_argument(
        "--timesteps",
        type=positive_int,
        default=None,
        help="generator env steps in all (required; board games: preset, gail/suites/boardgame_presets.py)",
    )
    gt.add_argument("--out", type=nonempty_str, required=True, help="run directory (checkpoint, policy, logs, plot)")
    gt.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.pt (an error if there is none; flags given must match its settings, "
        "demos too)",
    )
    gt.add_argument(
        "--force",
        action="store_true",
        help="start over in an OUT that holds a run, resume despite changed settings or demos, "
        "or train on demos recorded on another env id",
    )
    gt.add_argument("--quiet", action="store_true", help="no progress bar")
    gt.add_argument(
        "--algo",
        choices=("gail", "dac"),
        default="gail",
        help="gail: PPO generator (--ppo-* flags); dac: off-policy DAC, DQN for discrete actions and SAC for "
        "continuous ones (--dqn-* flags), envs without masks",
    )
    gt.add_argument(
        "--shard-demos",
        action="store_true",
        help="under torchrun: each rank's discriminator samples its own share of the demo episodes "
        "(default: every rank samples all of them)",
    )
    add_config_args(gt, GAILConfig)  # its sections' flags too: --seed, --disc-lr, --bc-epochs, --ppo-gamma
    add_dataclass_args(gt, DACLearnerConfig, prefix="dqn_")
    gt.set_defaults(func=cmd_gail_train)

    ev = sub.add_parser("evaluate", help="true-reward returns beside expert and random; or an Atari suite")
    ev.add_argument("--env", default=None, help="the env (required without --suite)")
    ev.add_argument(
        "--policy",
        action="append",
        help="a gail train output dir, an SB3 zip, 'expert' or 'random'; with --suite, repeatable: "
        "random, expert, learned=PATH, bc=PATH (KIND:LABEL=PATH names one; {game} in PATH is each game)",
    )
    ev.add_argument("--n-episodes", type=episode_count, default=None, help="episodes (default 50; suite: 10)")
    ev.add_argument("--episodes", type=episode_count, default=None, help="same as --n-episodes")
    ev.add_argument("--seed", type=seed_int, default=0)
    ev.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mode")
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.add_argument("--no-expert", action="store_true", help="leave out the expert row (no expert is trained)")
    ev.add_argument("--no-random", action="store_true", help="leave out the random row")
    ev.add_argument("--force", action="store_true", help="evaluate a policy recorded on another env id")
    add_suite_args(ev)
    ev.set_defaults(func=cmd_evaluate)
    images_cli.add_subparser(sub)
    music_cli.add_subparser(sub)
    text_cli.add_subparser(sub)
    synth_cli.add_subparser(sub)
    add_reward_parser(sub)
    return p


OPTIONAL_EXTRAS = {
    "sklearn": "images",
    "mlxtend": "images",
    "torchmetrics": "images",
    "nltk": "text",
    "music21": "music",
    "pretty_midi": "music",
    "minari": "synth",
    "jax": "synth",
    "ray": "ray",
}
"""Top-level modules of the optional extras (setup.py), and the extra that installs each."""


def main(argv: list[str] | None = None) -> int:
    import torch

    torch.set_num_threads(1)
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        if argv[:1] == ["train"]:  # the parser depends on --algo (genplay/cli_train.py)
            from genplay.cli_train import train_main

            train_main(argv[1:], build_parser)
            return 0
        args = build_parser().parse_args(argv)
        args.func(args)
    except GenplayError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except JobsFailed as exc:  # the suite's results are written; some of its jobs are not in them
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:  # a modality whose optional extra is not installed
        extra = OPTIONAL_EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(
            f"error: this command needs the optional package {exc.name!r}: pip install 'genplay[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:  # an output or input path the OS refuses (permissions, disk full, ...)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
