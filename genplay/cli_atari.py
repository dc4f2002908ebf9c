"""``genplay evaluate --suite atari``: the flags it adds to ``evaluate`` and the command itself.

Kept beside ``cli.py`` so that file stays readable; errors follow its rule (one ``error:``
line naming the flag, exit 2).
"""

from __future__ import annotations

import argparse
import sys

from genplay.cli_args import float_in, int_at_least
from genplay.errors import GenplayError, JobsFailed

SUITE_FLAGS = ("games", "seeds", "out", "video", "max_steps", "ray", "ray_retries", "ray_gpus")
"""Flags that mean something only with ``--suite``."""
DEFAULT_GAMES = "pong,breakout"
DEFAULT_EPISODES = 10


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 0,1,2; got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed, e.g. 0,1,2")
    return seeds


def add_suite_args(ev: argparse.ArgumentParser) -> None:
    """The suite's flags on the ``evaluate`` parser."""
    ev.add_argument(
        "--suite",
        choices=["atari", "boardgames"],
        default=None,
        help="atari: several policies on several games (HNS, IQM); boardgames: one policy vs random/MCTS, Elo",
    )
    ev.add_argument("--games", default=None, help=f"suite: comma-separated Atari games (default {DEFAULT_GAMES})")
    ev.add_argument("--seeds", type=_seed_list, default=None, help="suite: comma-separated seeds (default: --seed)")
    ev.add_argument(
        "--out",
        default=None,
        help="suite: the output dir (atari: results.json, results.md, scores.png; default runs/atari-suite; "
        "boardgames: suite.json, suite.md, suite.png; default none)",
    )
    ev.add_argument("--video", default=None, metavar="DIR", help="suite: also record one episode per game and policy")
    ev.add_argument(
        "--opponents", type=lambda v: v.split(","), default=None, metavar="SPEC,SPEC",
        help="boardgames: play only these (bot specs such as mcts:50 or puct:RUN:N, or run dirs), one pairing each",
    )  # fmt: skip
    ev.add_argument(
        "--ladder", type=lambda v: v.split(","), default=None, metavar="SPEC,SPEC,...",
        help="boardgames: a round-robin of these entrants (bots or run dirs; --n-episodes games per colour per "
        "pairing), Bradley-Terry Elo with bootstrap CIs, random = 0; --out: ladder.json, ladder.md, ladder.png",
    )  # fmt: skip
    ev.add_argument("--max-steps", type=int, default=None, help=argparse.SUPPRESS)  # tests: cut episodes short
    ev.add_argument(
        "--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
        help="suite: run each (game, policy, seed) job as a Ray task; no ADDRESS starts Ray on this machine "
        "(needs: pip install 'genplay[ray]')",
    )  # fmt: skip
    ev.add_argument(
        "--ray-retries", type=int_at_least(0), default=None, help="suite, --ray: retries of a failed job (default 2)"
    )
    ev.add_argument(
        "--ray-gpus", type=float_in(0.0, 64.0), default=None, help="suite, --ray: GPUs per learned/bc job (default 0)"
    )


def ray_options(args: argparse.Namespace) -> dict:
    """``run_suite``'s Ray keywords from ``--ray``, ``--ray-retries``, ``--ray-gpus`` (checked; Ray imported)."""
    from genplay.gail.suites.fanout import DEFAULT_RETRIES, import_ray

    if args.ray is None:
        for name in ("ray_retries", "ray_gpus"):
            if getattr(args, name) is not None:
                raise GenplayError(f"--{name.replace('_', '-')}: only with --ray")
        return {}
    if not args.ray.strip():
        raise GenplayError("--ray: the address must not be empty (leave it out to start Ray here)")
    retries = DEFAULT_RETRIES if args.ray_retries is None else args.ray_retries
    if not 0 <= retries <= 100:
        raise GenplayError(f"--ray-retries: expected an integer in [0, 100], got {retries}")
    gpus = args.ray_gpus or 0.0
    if not 0 <= gpus <= 64:
        raise GenplayError(f"--ray-gpus: expected a number in [0, 64], got {gpus}")
    import_ray()
    return {"ray_address": args.ray, "max_retries": retries, "gpus": gpus}


def check_not_suite(args: argparse.Namespace) -> None:
    """Suite-only flags given without ``--suite``: say so rather than ignore them."""
    for name in SUITE_FLAGS:
        if getattr(args, name) is not None:
            raise GenplayError(f"--{name.replace('_', '-')}: only with --suite atari")


def cmd_evaluate_suite(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_out_dir
    from genplay.gail.suites.atari_suite import PolicySpec, SuiteConfig, run_suite

    if args.env is not None:
        raise GenplayError("--env: not used with --suite atari; name the games with --games")
    if not args.policy:
        raise GenplayError("--policy: give at least one, e.g. --policy random --policy learned=runs/pong")
    out = args.out if args.out is not None else "runs/atari-suite"
    if not out.strip():
        raise GenplayError("--out: must not be empty")
    check_out_dir(out)
    if args.video is not None:
        if not args.video.strip():
            raise GenplayError("--video: must not be empty")
        try:
            check_out_dir(args.video)
        except GenplayError as exc:
            raise GenplayError(str(exc).replace("--out", "--video", 1)) from None
    games = tuple(g.strip() for g in (args.games or DEFAULT_GAMES).split(",") if g.strip())
    config = SuiteConfig(
        games=games,
        policies=tuple(PolicySpec.parse(p) for p in args.policy),
        episodes=args.episodes or args.n_episodes or DEFAULT_EPISODES,
        seeds=args.seeds or (args.seed,),
        deterministic=not args.stochastic,
        max_steps=args.max_steps,
    )
    result = run_suite(config, progress=sys.stderr.isatty(), **ray_options(args))
    paths = result.write(out)
    if args.json:
        print(paths["json"].read_text())
    else:
        print(result.markdown())
        print(f"results: {paths['json']}, {paths['markdown']}; plot: {paths['plot']}")
    if args.video is not None:
        from genplay.gail.evaluation.video import record_episode

        for game in config.games:
            for spec in config.policies:
                path = record_episode(
                    game, spec, args.video, seed=config.seeds[0], deterministic=config.deterministic,
                    max_steps=config.max_steps,
                )  # fmt: skip
                print(f"video: {path}")
    if result.failed:
        raise JobsFailed(result.failed, paths["json"])
