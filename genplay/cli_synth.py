"""``genplay synth``: synthetic trajectories from a trained generator, realism scorer, Minari export/import, report.

Kept beside ``cli.py`` (its error rule holds: one ``error:`` line naming the flag, exit 2).

    genplay synth scorer --run runs/cartpole --demos demos.npz      (trains runs/cartpole/realism.pt)
    genplay synth --run runs/cartpole --n-episodes 100 --out synth.npz [--top 50] [--minari-id ID]
    genplay synth export synth.npz --minari-id genplay/cartpole-synth-v0 [--minari-root DIR]
    genplay synth import genplay/cartpole-synth-v0 --out demos.npz   (an id or a dataset directory)
    genplay synth report --run runs/cartpole --data synth.npz --out runs/cartpole/synth-report
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from genplay.errors import GenplayError


def add_subparser(sub) -> None:
    from genplay.cli_args import DefaultsHelpFormatter, episode_count, nonempty_str, positive_int, seed_int
    from genplay.gail.evaluation.realism import RealismConfig

    s = sub.add_parser("synth", help="synthetic trajectories from a trained generator, scored by a realism scorer")
    s.add_argument("--run", default=None, help="a gail train output dir (policy.zip + checkpoint.pt)")
    s.add_argument("--n-episodes", type=episode_count, default=20)
    s.add_argument("--seed", type=seed_int, default=0, help="episode i resets its env with seed + i")
    s.add_argument("--deterministic", action="store_true", help="the policy's mode instead of sampling")
    s.add_argument("--temperature", type=float, default=1.0, help="discrete: logits / T; continuous: noise x T")
    s.add_argument("--perturb-steps", type=int, default=0, help="start after 0..N uniformly random actions")
    s.add_argument("--batch", type=positive_int, default=64, help="episodes rolled out side by side")
    s.add_argument("--min-score", type=float, default=None, help="keep episodes scoring at least this (realism.pt)")
    s.add_argument("--top", type=positive_int, default=None, help="keep the N best-scoring episodes (realism.pt)")
    s.add_argument("--out", type=nonempty_str, default=None, help="demos file (.npz) to write")
    _minari_args(s)
    s.set_defaults(func=cmd_synth)
    actions = s.add_subparsers(dest="synth_action")
    sc = actions.add_parser(
        "scorer",
        formatter_class=DefaultsHelpFormatter,
        help="train the realism scorer (RUN/realism.pt): expert vs generator, random",
    )
    sc.add_argument("--run", required=True, help="a gail train output dir (policy.zip + checkpoint.pt)")
    sc.add_argument("--demos", default=None, help="expert demos (default: --expert-episodes of the env's expert)")
    recipe = "preset: board games 10,000 / 60 / 5,000 episodes and 4,000 steps; else 20 / 20 / 20 and "
    sc.add_argument(
        "--expert-episodes", type=positive_int, default=None, help=f"without --demos ({recipe}{RealismConfig.steps})"
    )
    sc.add_argument("--generator-episodes", type=positive_int, default=None, help="generator rollouts (preset)")
    sc.add_argument("--random-episodes", type=positive_int, default=None, help="random rollouts (preset)")
    sc.add_argument("--steps", type=positive_int, default=None, help="optimiser steps (preset)")
    sc.add_argument("--seed", type=seed_int, default=0, help="training seed")
    sc.add_argument("--force", action="store_true", help="replace an existing realism.pt")
    sc.set_defaults(func=cmd_scorer)
    ex = actions.add_parser("export", help="a demos file as a Minari dataset")
    ex.add_argument("demos")
    _minari_args(ex)
    ex.set_defaults(func=cmd_export)
    im = actions.add_parser("import", help="a Minari dataset (id or directory) as a demos file")
    im.add_argument("source")
    im.add_argument("--out", type=nonempty_str, required=True)
    im.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    im.add_argument("--env", default=None, help="the env id, when the dataset names none (also checked)")
    im.add_argument("--minari-root", default=None, help="Minari's datasets root (default: its own, ~/.minari/datasets)")
    im.set_defaults(func=cmd_import)
    rp = actions.add_parser("report", help="held-out AUCs of the realism score (warns below 0.6), plots, returns")
    rp.add_argument("--run", required=True, help="the generator's run dir")
    rp.add_argument("--data", required=True, help="synthetic demos (genplay synth --out)")
    rp.add_argument("--episodes", type=episode_count, default=20, help="expert and random episodes to score")
    rp.add_argument("--out", type=nonempty_str, required=True, help="directory for the plots and report.json")
    rp.set_defaults(func=cmd_report)


def _minari_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minari-id", default=None, help="also write a Minari dataset of this id (ns/name-v0)")
    p.add_argument("--minari-root", default=None, help="Minari's datasets root (default: its own, ~/.minari/datasets)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file or Minari dataset of that id")


def _check_run(run: str | None) -> Path:
    if run is None:
        raise GenplayError("--run: required (a gail train output dir)")
    path = Path(run)
    if not (path / "policy.zip").is_file() and not path.is_file():
        raise GenplayError(f"--run: {run}: no trained policy here (expected the output dir of `genplay gail train`)")
    return path


def _export(demos, args) -> None:
    from genplay.gail.data.minari_io import export_minari

    path = export_minari(demos, args.minari_id, root=args.minari_root, force=args.force)
    print(f"Minari dataset {args.minari_id}: {path}")


def cmd_synth(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_output_file
    from genplay.gail.data.demos import save_demos
    from genplay.gail.data.synth import SynthConfig, filter_by_score, load_generator, synthesize

    run = _check_run(args.run)
    if args.out is None and args.minari_id is None:
        raise GenplayError("--out: required (or --minari-id): where the synthetic data goes")
    if args.out is not None:
        check_output_file(args.out, "--out", force=args.force)
    if args.minari_id is not None:
        from genplay.gail.data.minari_io import check_export_target

        check_export_target(args.minari_id, args.minari_root, force=args.force)
    if args.deterministic and args.temperature != 1.0:
        raise GenplayError("--temperature: not with --deterministic (the mode has no temperature)")
    config = SynthConfig(
        n_episodes=args.n_episodes,
        seed=args.seed,
        deterministic=args.deterministic,
        temperature=args.temperature,
        perturb_steps=args.perturb_steps,
        batch=args.batch,
    )
    gen = load_generator(run)
    if gen.scorer is None and (args.min_score is not None or args.top is not None):
        flag = "--top" if args.top is not None else "--min-score"
        raise GenplayError(
            f"{flag}: {run} has no realism scorer (realism.pt), so no scores to rank by; "
            f"train one first: genplay synth scorer --run {run} --demos DEMOS"
        )
    demos = synthesize(gen, config)
    if args.min_score is not None or args.top is not None:
        demos = filter_by_score(demos, min_score=args.min_score, top=args.top)
    if args.out is not None:
        save_demos(args.out, demos)
    if args.minari_id is not None:
        _export(demos, args)
    synth = demos.metadata["synth"]
    r = demos.episode_returns()
    summary = {
        "out": args.out,
        "n_episodes": demos.n_episodes,
        "n_transitions": demos.n_transitions,
        "return_mean": round(float(r.mean()), 3),
        "score_mean": round(float(demos.scores.mean()), 4) if demos.scores is not None else None,
        **synth["timing"],
    }
    print(json.dumps(summary))


def cmd_scorer(args: argparse.Namespace) -> None:
    import dataclasses
    import sys

    from genplay.gail.data.demos import load_demos
    from genplay.gail.data.synth import fit_scorer, load_generator
    from genplay.gail.evaluation.realism import SCORER_FILE, save_scorer, scorer_recipe

    run = _check_run(args.run)
    target = run / SCORER_FILE
    if not run.is_dir():
        raise GenplayError(f"--run: {run}: a run directory is needed (realism.pt is written into it)")
    if target.exists() and not args.force:
        raise GenplayError(f"--run: {target} exists; pass --force to replace it")
    gen = load_generator(run)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    recipe = scorer_recipe(gen.env.env_id)  # the env family's measured recipe; flags given win
    if args.demos is not None:
        expert = load_demos(args.demos, env_id=gen.env.env_id)
    else:  # the expert of the env's family, playing the generator's env (a board game: its opponent)
        from genplay.gail.data.expert_choice import expert_demos

        n_expert = args.expert_episodes or recipe.expert_episodes
        log(f"realism scorer: {n_expert} expert episodes on {gen.env.env_id}")
        expert = expert_demos(gen.env, n_expert, seed=40_000, progress=True)
    gen = dataclasses.replace(gen, scorer=None)
    config = dataclasses.replace(recipe.config, steps=args.steps or recipe.config.steps, seed=args.seed)
    scorer = fit_scorer(
        gen, expert, config=config, generator_episodes=args.generator_episodes or recipe.generator_episodes,
        random_episodes=args.random_episodes or recipe.random_episodes, log=log,
    )  # fmt: skip
    save_scorer(target, scorer)
    print(
        json.dumps({"scorer": str(target), "validation": scorer.validation, "episodes": scorer.provenance["episodes"]})
    )


def cmd_export(args: argparse.Namespace) -> None:
    from genplay.gail.data.demos import load_demos
    from genplay.gail.data.minari_io import check_export_target

    if args.minari_id is None:
        raise GenplayError("--minari-id: required (the dataset id, e.g. genplay/cartpole-synth-v0)")
    check_export_target(args.minari_id, args.minari_root, force=args.force)
    _export(load_demos(args.demos), args)


def cmd_import(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_env, check_output_file
    from genplay.gail.data.demos import save_demos
    from genplay.gail.data.minari_io import import_minari

    check_output_file(args.out, "--out", force=args.force)
    if args.env is not None:
        check_env(args.env)
    demos = import_minari(args.source, root=args.minari_root, env_id=args.env)
    save_demos(args.out, demos)
    print(f"wrote {demos.n_episodes} episodes ({demos.n_transitions} steps) of {demos.env_id} to {args.out}")


def cmd_report(args: argparse.Namespace) -> None:
    import sys

    from genplay.cli_args import check_out_dir
    from genplay.gail.data.demos import load_demos
    from genplay.gail.data.synth import load_generator
    from genplay.gail.data.synth_report import write_report

    check_out_dir(args.out)
    gen = load_generator(_check_run(args.run))
    if gen.scorer is None:
        raise GenplayError(
            f"--run: {args.run} has no realism scorer (realism.pt); train one first: "
            f"genplay synth scorer --run {args.run} --demos DEMOS"
        )
    result = write_report(gen, load_demos(args.data, env_id=gen.env.env_id), args.out, episodes=args.episodes)
    if result["warning"]:
        print(f"WARNING: {result['warning']}", file=sys.stderr, flush=True)
    print(json.dumps(result))
