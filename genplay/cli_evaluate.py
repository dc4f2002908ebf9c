"""``genplay evaluate``: one policy on one env against the expert and random, or a whole suite.

Suites live beside it: ``--suite atari`` (``genplay.cli_atari``), ``--suite boardgames``
(``genplay.gail.suites.boardgame_suite``); an Atari env id with one policy runs the Atari suite for
that game, since its RAM expert plays single envs, and a board-game id runs the board-game
suite, since its expert is a search bot reading the game's state.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genplay.errors import GenplayError, JobsFailed


def _boardgames_suite(args: argparse.Namespace) -> None:
    from genplay.cli_atari import ray_options
    from genplay.gail.suites.boardgame_suite import cli_suite

    if args.env is None:
        raise GenplayError("--env: required with --suite boardgames (the game, e.g. genplay/TicTacToe-v0)")
    if args.ladder is not None:
        return _ladder(args)
    if not args.policy or len(args.policy) != 1:
        raise GenplayError("--policy: give exactly one with --suite boardgames (a policy dir or zip, or a bot spec)")
    for name in ("games", "seeds", "video", "max_steps"):
        if getattr(args, name) is not None:
            raise GenplayError(f"--{name.replace('_', '-')}: only with --suite atari")
    cli_suite(
        args.env,
        args.policy[0],
        args.n_episodes or args.episodes or 50,
        opponents=args.opponents,
        seed=args.seed,
        out=args.out,
        as_json=args.json,
        **ray_options(args),
    )


def _ladder(args: argparse.Namespace) -> None:
    from genplay.cli_atari import ray_options
    from genplay.gail.suites.board_ladder import LadderConfig, entrants_of, markdown, run_ladder

    for flag in ("policy", "opponents", "games", "seeds", "video", "max_steps"):
        if getattr(args, flag):
            raise GenplayError(f"--{flag.replace('_', '-')}: not with --ladder (its entrants play each other)")
    entrants = entrants_of(args.env, args.ladder)
    config = LadderConfig(n_per_colour=args.n_episodes or args.episodes or 50, seed=args.seed)
    ray = {k: v for k, v in ray_options(args).items() if k != "gpus"}
    result = run_ladder(args.env, entrants, config, out=args.out, **ray)
    print(json.dumps(result) if args.json else markdown(result), end="\n" if args.json else "")
    if result["failed"]:
        raise JobsFailed(result["failed"], args.out or "the output above")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_env, check_policy_arg
    from genplay.cli_atari import check_not_suite, cmd_evaluate_suite
    from genplay.envs import EnvFactory
    from genplay.gail.evaluation.evaluate import compare, render_table, results_json
    from genplay.gail.runs.pipeline import default_expert
    from genplay.gail.saving.run_files import load_policy

    if args.suite == "boardgames":
        return _boardgames_suite(args)
    if args.suite is not None:
        if args.opponents is not None:
            raise GenplayError("--opponents: only with --suite boardgames (or a board-game --env)")
        if args.ladder is not None:
            raise GenplayError("--ladder: only with --suite boardgames (or a board-game --env)")
        return cmd_evaluate_suite(args)
    if args.env is None:
        raise GenplayError("--env: required (or evaluate a suite: --suite atari)")
    check_env(args.env)
    from genplay.envs.boardgames import game_of

    if game_of(args.env) is not None:  # a board game's expert is a search bot: the suite plays it
        return _boardgames_suite(args)
    if args.opponents is not None:
        raise GenplayError("--opponents: only with --suite boardgames (or a board-game --env)")
    if args.ladder is not None:
        raise GenplayError("--ladder: only with --suite boardgames (or a board-game --env)")
    if not args.policy:
        raise GenplayError("--policy: required: a gail train output dir, an SB3 zip, 'expert' or 'random'")
    if len(args.policy) > 1:
        raise GenplayError("--policy: give one (several policies: --suite atari)")
    args.policy = args.policy[0]
    check_policy_arg(args.policy)
    atari = EnvFactory(args.env).atari_config
    if atari is not None:  # the RAM expert plays single envs: the Atari suite does it, for this one game
        learned = [] if args.policy in ("expert", "random") else [f"learned={args.policy}"]
        args.env, args.games, args.policy = None, atari.game, [*learned, "expert", "random"]
        return cmd_evaluate_suite(args)
    check_not_suite(args)
    args.n_episodes = args.n_episodes or args.episodes or 50
    policies = {}
    if args.policy not in ("expert", "random"):
        policies[Path(args.policy).name or "learned"] = load_policy(
            args.policy, deterministic=not args.stochastic, env_id=args.env, other_env=args.force
        )
    elif args.policy == "expert" and args.no_expert or args.policy == "random" and args.no_random:
        raise GenplayError(f"--policy {args.policy}: that row is left out by --no-{args.policy}")
    results = compare(
        args.env,
        policies,
        expert=None if args.no_expert else default_expert(args.env)[0],
        n_episodes=args.n_episodes,
        seed=args.seed,
        deterministic=not args.stochastic,
        random=not args.no_random,
    )
    print(results_json(args.env, results) if args.json else render_table(args.env, results))
