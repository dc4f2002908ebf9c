"""``genplay train --algo NAME``: every imitation algorithm through one command.

``gail`` and ``dac`` are ``genplay gail train`` (its flags, its presets); every other algorithm
in the registry (``gail/algos/registry.py``) gets the flags of its own config dataclass, so a
flag that belongs to another algorithm is refused in one line naming the algorithms that take
it, never ignored. The parser is built for the chosen algorithm only, which also keeps
``genplay train --algo sqil --help`` to SQIL's flags.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from genplay.cli_args import (
    ArgumentParser,
    add_config_args,
    check_env,
    check_out_dir,
    positive_int,
)
from genplay.errors import GenplayError
from genplay.settings import flag_names, flat_names, replace_flat, section_prefixes

ADAPTED = ("gail", "dac")
"""Algorithms whose flags are ``genplay gail train``'s (``--algo dac`` there)."""


def _algorithms() -> dict:
    from genplay.gail.algos.registry import ALGORITHMS

    return ALGORITHMS


def _parser(algo: str, spec, config_cls: type | None) -> argparse.ArgumentParser:
    p = ArgumentParser(prog=f"genplay train --algo {algo}", description=f"{algo}: {spec.paper}")
    p.add_argument("--algo", required=True, choices=sorted(_algorithms()))
    p.add_argument("--env", required=True, help="gymnasium env id")
    demos_help = "demos file (genplay demos collect)" + ("" if spec.needs_demos else "; optional for this algorithm")
    p.add_argument("--demos", required=spec.needs_demos, default=None, help=demos_help)
    p.add_argument("--out", required=True, help="run directory (locked while training)")
    if spec.takes_steps:
        p.add_argument("--timesteps", type=positive_int, required=True, help="env steps in all")
    else:
        p.add_argument("--timesteps", type=positive_int, default=1, help=argparse.SUPPRESS)  # takes no env steps
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--force", action="store_true", help="start over in an --out that holds a run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    if config_cls is not None:
        add_config_args(p, config_cls)  # its sections' fields under their prefixes (``ppo: PPOConfig``: --ppo-*)
    return p


def _flags_of(algo: str, build_parser: Callable[[], argparse.ArgumentParser]) -> set[str]:
    spec = _algorithms()[algo]
    if algo in ADAPTED:
        sub = build_parser()._subparsers._group_actions[0].choices["gail"]  # type: ignore[union-attr]
        train = sub._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
        flags = {s for a in train._actions for s in a.option_strings}
        if algo == "gail":
            return {f for f in flags if not f.startswith("--dqn-")}
        from genplay.gail.algos.dac import DAC_READS

        gail_fields = {"--" + f.replace("_", "-") for f in _gail_fields()}
        return {f for f in flags if f not in gail_fields or f[2:].replace("-", "_") in DAC_READS}
    _, config_cls = spec.load()
    return {s for a in _parser(algo, spec, config_cls)._actions for s in a.option_strings}


def _gail_fields() -> list[str]:
    from genplay.gail.algos.config import GAILConfig

    return list(flat_names(GAILConfig))


def _refuse_foreign_flags(algo: str, flags: list[str], build_parser: Callable[[], argparse.ArgumentParser]) -> None:
    """One line for a flag the chosen algorithm does not take, naming those that do."""
    for flag in flags:
        name = flag.split("=")[0]
        owners = sorted(a for a in _algorithms() if a != algo and name in _flags_of(a, build_parser))
        if owners:
            raise GenplayError(f"{name}: --algo {algo} does not take this flag (it is for --algo {', '.join(owners)})")
        raise GenplayError(f"{name}: not a flag of genplay train --algo {algo} (see --help)")


def _overrides(args: argparse.Namespace, cls: type) -> dict:
    """The flags given, by flat name (a section's fields with its prefix: ``ppo_gamma``, ``disc_lr``)."""
    out = {n: getattr(args, n) for n in flat_names(cls) if getattr(args, n, None) is not None}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items()}


def _config(args: argparse.Namespace, spec, config_cls: type):
    base = spec.default_config(args.env)
    try:
        return replace_flat(base, **_overrides(args, config_cls))
    except (ValueError, TypeError, GenplayError) as exc:  # "SQILConfig.lr: ..." -> "--lr: ..."
        raise GenplayError(flag_names(str(exc), section_prefixes(config_cls))) from None


def train_main(argv: list[str], build_parser: Callable[[], argparse.ArgumentParser]) -> None:
    """Parse ``genplay train ...`` for the chosen algorithm and run it (errors: ``GenplayError``);
    ``build_parser`` is the CLI's (``gail``/``dac`` go through its ``gail train``)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--algo", default=None)
    known, _ = pre.parse_known_args(argv)
    algorithms = _algorithms()
    if known.algo is None:
        if "-h" in argv or "--help" in argv:
            print("usage: genplay train --algo {" + ",".join(sorted(algorithms)) + "} --env ENV --out DIR ...")
            for name in sorted(algorithms):
                print(f"  {name:8s} {algorithms[name].paper}")
            return
        raise GenplayError(f"--algo: required, one of {', '.join(sorted(algorithms))}")
    if known.algo not in algorithms:
        raise GenplayError(f"--algo: {known.algo!r} is not an algorithm here; expected one of {', '.join(algorithms)}")
    if known.algo in ADAPTED:
        rest = [a for i, a in enumerate(argv) if a != "--algo" and (i == 0 or argv[i - 1] != "--algo")]
        rest = [a for a in rest if not a.startswith("--algo=")]
        args = build_parser().parse_args(["gail", "train", "--algo", known.algo, *rest])
        args.func(args)
        return
    spec = algorithms[known.algo]
    train, config_cls = spec.load()
    args, unknown = _parser(known.algo, spec, config_cls).parse_known_args(argv)
    if unknown:
        _refuse_foreign_flags(known.algo, [a for a in unknown if a.startswith("-")] or unknown, build_parser)
    run(spec, train, config_cls, args)


def run(spec, train, config_cls: type, args: argparse.Namespace) -> None:
    """Load the demos, check the env against the algorithm, train into ``--out``."""
    from genplay.envs import EnvFactory
    from genplay.gail.data.demos import load_demos
    from genplay.gail.saving.run_files import check_run_algorithm

    check_env(args.env)
    check_out_dir(args.out)
    env = EnvFactory(args.env).make()
    try:
        why = spec.supports(env.action_space, masked=hasattr(env.unwrapped, "action_masks"))
    finally:
        env.close()
    if why:
        raise GenplayError(f"--env {args.env}: {why}")
    if args.resume:
        check_run_algorithm(args.out, spec.name)
    config = _config(args, spec, config_cls)
    demos = load_demos(args.demos, env_id=args.env, other_env=args.force) if args.demos else None
    trainer = train(
        args.env,
        demos,
        args.timesteps,
        config=config,
        out_dir=args.out,
        resume=args.resume,
        force=args.force,
        progress_bar=not args.quiet,
    )
    history = getattr(trainer, "history", []) or []
    returns = [r.get("true_return", r.get("episode_return", math.nan)) for r in history]  # DAgger: episode_return
    returns = [float(x) for x in returns if isinstance(x, (int, float)) and math.isfinite(x)]
    last = f"last training return {returns[-1]:.1f}" if returns else "no training episode finished yet"
    steps = getattr(trainer, "num_timesteps", args.timesteps)
    print(f"trained {steps} steps ({spec.name}); {last}; policy in {Path(args.out) / 'policy.zip'}")
