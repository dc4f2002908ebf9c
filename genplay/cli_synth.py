"""``genplay synth``: synthetic trajectories from a trained generator, Minari export/import, report.

Kept beside ``cli.py`` (its error rule holds: one ``error:`` line naming the flag, exit 2).

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
    from genplay.cli_args import nonempty_str, positive_int, seed_int

    s = sub.add_parser("synth", help="synthetic trajectories from a trained generator, scored by its discriminator")
    s.add_argument("--run", default=None, help="a gail train output dir (policy.zip + checkpoint.pt)")
    s.add_argument("--n-episodes", type=positive_int, default=20)
    s.add_argument("--seed", type=seed_int, default=0, help="episode i resets its env with seed + i")
    s.add_argument("--deterministic", action="store_true", help="the policy's mode instead of sampling")
    s.add_argument("--temperature", type=float, default=1.0, help="discrete: logits / T; continuous: noise x T")
    s.add_argument("--perturb-steps", type=int, default=0, help="start after 0..N uniformly random actions")
    s.add_argument("--batch", type=positive_int, default=64, help="episodes rolled out side by side")
    s.add_argument("--min-score", type=float, default=None, help="keep episodes scoring at least this")
    s.add_argument("--top", type=positive_int, default=None, help="keep the N best-scoring episodes")
    s.add_argument("--out", type=nonempty_str, default=None, help="demos file (.npz) to write")
    _minari_args(s)
    s.set_defaults(func=cmd_synth)
    actions = s.add_subparsers(dest="synth_action")
    ex = actions.add_parser("export", help="a demos file as a Minari dataset")
    ex.add_argument("demos")
    _minari_args(ex)
    ex.set_defaults(func=cmd_export)
    im = actions.add_parser("import", help="a Minari dataset (id or directory) as a demos file")
    im.add_argument("source")
    im.add_argument("--out", type=nonempty_str, required=True)
    im.add_argument("--env", default=None, help="the env id, when the dataset names none (also checked)")
    im.add_argument("--minari-root", default=None, help="Minari's datasets root (default: its own)")
    im.set_defaults(func=cmd_import)
    rp = actions.add_parser("report", help="score distributions (expert, generator, random), returns, AUCs")
    rp.add_argument("--run", required=True, help="the generator's run dir")
    rp.add_argument("--data", required=True, help="synthetic demos (genplay synth --out)")
    rp.add_argument("--episodes", type=positive_int, default=20, help="expert and random episodes to score")
    rp.add_argument("--out", type=nonempty_str, required=True, help="directory for the plots and report.json")
    rp.set_defaults(func=cmd_report)


def _minari_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minari-id", default=None, help="also write a Minari dataset of this id (ns/name-v0)")
    p.add_argument("--minari-root", default=None, help="Minari's datasets root (default: its own)")


def _check_run(run: str | None) -> Path:
    if run is None:
        raise GenplayError("--run: required (a gail train output dir)")
    path = Path(run)
    if not (path / "policy.zip").is_file() and not path.is_file():
        raise GenplayError(f"--run: {run}: no trained policy here (expected the output dir of `genplay gail train`)")
    return path


def _export(demos, args) -> None:
    from genplay.gail.minari_io import export_minari

    path = export_minari(demos, args.minari_id, root=args.minari_root)
    print(f"Minari dataset {args.minari_id}: {path}")


def cmd_synth(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_out_file
    from genplay.gail.demos import save_demos
    from genplay.gail.synth import SynthConfig, filter_by_score, load_generator, synthesize

    run = _check_run(args.run)
    if args.out is None and args.minari_id is None:
        raise GenplayError("--out: required (or --minari-id): where the synthetic data goes")
    if args.out is not None:
        check_out_file(args.out)
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
    if gen.disc is None and (args.min_score is not None or args.top is not None):
        raise GenplayError(f"--run: {run} has no checkpoint.pt: no discriminator, so no scores to filter by")
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


def cmd_export(args: argparse.Namespace) -> None:
    from genplay.gail.demos import load_demos

    if args.minari_id is None:
        raise GenplayError("--minari-id: required (the dataset id, e.g. genplay/cartpole-synth-v0)")
    _export(load_demos(args.demos), args)


def cmd_import(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_env, check_out_file
    from genplay.gail.demos import save_demos
    from genplay.gail.minari_io import import_minari

    check_out_file(args.out)
    if args.env is not None:
        check_env(args.env)
    demos = import_minari(args.source, root=args.minari_root, env_id=args.env)
    save_demos(args.out, demos)
    print(f"wrote {demos.n_episodes} episodes ({demos.n_transitions} steps) of {demos.env_id} to {args.out}")


def cmd_report(args: argparse.Namespace) -> None:
    from genplay.cli_args import check_out_dir
    from genplay.gail.demos import load_demos
    from genplay.gail.synth import load_generator
    from genplay.gail.synth_report import write_report

    check_out_dir(args.out)
    gen = load_generator(_check_run(args.run))
    if gen.disc is None:
        raise GenplayError(f"--run: {args.run} has no checkpoint.pt: no discriminator to score with")
    result = write_report(gen, load_demos(args.data, env_id=gen.env.env_id), args.out, episodes=args.episodes)
    print(json.dumps(result))
