"""``genplay gail train`` (GAIL, and ``--algo dac``): flags to configs, presets, resume checks.

Apart from ``cli.py`` (the parser and the other commands) so that each file reads as one
command; ``genplay train --algo gail|dac`` arrives here through the same parser.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from genplay.cli_args import check_env, check_out_dir, flag_error
from genplay.cli_boardgames import preset_timesteps
from genplay.errors import GenplayError


def config_overrides(args: argparse.Namespace, *, prefix: str = "", cls: type | None = None) -> dict:
    """The flags given for ``cls``'s fields (default: GAILConfig's, its sections' by flat name), by field name."""
    from genplay.gail.algos.config import GAILConfig
    from genplay.settings import flat_names

    names = list(flat_names(GAILConfig)) if cls is None else [prefix + f.name for f in dataclasses.fields(cls)]
    out = {n.removeprefix(prefix): getattr(args, n) for n in names if getattr(args, n, None) is not None}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items()}


def cmd_gail_train(args: argparse.Namespace) -> None:
    from genplay.gail.algos.dac_config import DACLearnerConfig

    dqn_flags = config_overrides(args, prefix="dqn_", cls=DACLearnerConfig)
    if args.algo == "dac":
        return cmd_dac_train(args)
    if dqn_flags:
        raise GenplayError(f"--dqn-{next(iter(dqn_flags)).replace('_', '-')}: DQN settings need --algo dac")
    from genplay.gail.algos.board_training import check_board_settings
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.parallel import check_world_size
    from genplay.gail.algos.presets import preset
    from genplay.gail.data.demos import load_demos
    from genplay.gail.runs.pipeline import train_gail
    from genplay.gail.saving.checkpoint import checkpoint_config, read_checkpoint
    from genplay.gail.saving.run_files import CHECKPOINT, check_run_algorithm

    check_env(args.env)
    check_out_dir(args.out)
    if args.resume:
        check_run_algorithm(args.out, "gail")
    base = preset(args.env)  # board games: their recipe (gail/suites/boardgame_presets.py)
    ckpt = Path(args.out) / CHECKPOINT
    if args.resume and ckpt.is_file():  # flags given on resume are compared with the checkpoint's settings
        base = checkpoint_config(read_checkpoint(ckpt), ckpt)
    try:
        config = replace(base, **config_overrides(args))
        check_board_settings(args.env, config)
        check_ppo_for_env(args.env, config)
    except (ValueError, TypeError) as exc:
        raise flag_error(exc) from None
    timesteps = preset_timesteps(args)
    demos = load_demos(args.demos, env_id=args.env, other_env=args.force)
    from genplay.generative.core import distributed

    ctx = distributed.init_from_env(config.run.device)  # None unless launched by torchrun
    try:
        try:
            check_world_size(config, ctx)
        except GenplayError as exc:
            raise flag_error(exc) from None
        trainer = train_gail(
            args.env,
            demos,
            timesteps,
            config=config,
            out_dir=args.out,
            resume=args.resume,
            force=args.force,
            progress_bar=not args.quiet and (ctx is None or ctx.is_main),
            dist=ctx,
            shard_demos=args.shard_demos,
        )
    finally:
        distributed.shutdown()
    if ctx is not None and not ctx.is_main:
        return
    returns = [float(r["true_return"]) for r in trainer.history if r.get("true_return") is not None]
    returns = [r for r in returns if math.isfinite(r)]
    last = f"last training return {returns[-1]:.1f}" if returns else "no training episode finished yet"
    print(f"trained {trainer.num_timesteps} steps; {last}; policy in {Path(args.out) / 'policy.zip'}")


def check_ppo_for_env(env_id: str, config) -> None:
    """The PPO flags against the env's spaces, so that a wrong one is named as a flag (``--ppo-policy``)."""
    from genplay.envs import EnvFactory
    from genplay.gail.algos.config import check_ppo_for_spaces

    env = EnvFactory(env_id).make()
    try:
        check_ppo_for_spaces(config.ppo, env.observation_space, env.action_space)
    finally:
        env.close()


def cmd_dac_train(args: argparse.Namespace) -> None:
    """``gail train --algo dac``: the off-policy variant (DQN or SAC on the discriminator's reward)."""
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.dac_config import DACLearnerConfig, check_learner_fields, continuous_actions, dac_preset
    from genplay.gail.data.demos import load_demos
    from genplay.gail.runs.off_policy_run import stored_dac_settings
    from genplay.gail.saving.run_files import CHECKPOINT, check_run_algorithm

    check_env(args.env)
    check_out_dir(args.out)
    if args.shard_demos:
        raise GenplayError("--shard-demos: DAC runs in one process (no torchrun ranks)")
    if args.resume:
        check_run_algorithm(args.out, "dac")
    base, base_dqn = dac_preset(args.env)
    ckpt = Path(args.out) / CHECKPOINT
    if args.resume and ckpt.is_file():  # flags given on resume are compared with the checkpoint's settings
        base, base_dqn = stored_dac_settings(ckpt)
    from genplay.gail.algos.dac import DAC_READS
    from genplay.settings import flat_settings

    for key, value in config_overrides(args).items():  # a setting DAC never reads: refused unless it changes nothing
        default = flat_settings(base)[key]
        if key not in DAC_READS and value != default:
            flag = "--" + key.replace("_", "-")
            raise GenplayError(f"{flag}: --algo dac does not use this setting (it is GAIL's; default {default!r})")
    try:
        config = replace(base, **config_overrides(args))
        dqn = dataclasses.replace(base_dqn, **config_overrides(args, prefix="dqn_", cls=DACLearnerConfig))
        check_learner_fields(dqn, discrete=not continuous_actions(args.env))  # DQN's fields or SAC's
    except (ValueError, TypeError) as exc:
        raise flag_error(exc) from None
    from genplay.gail.runs.off_policy_run import train_dac

    demos = load_demos(args.demos, env_id=args.env, other_env=args.force)
    trainer = train_dac(
        args.env,
        demos,
        preset_timesteps(args),
        config=config,
        dqn=dqn,
        out_dir=args.out,
        resume=args.resume,
        force=args.force,
        progress_bar=not args.quiet,
    )
    returns = [float(r["true_return"]) for r in trainer.history if math.isfinite(r.get("true_return", math.nan))]
    last = f"last training return {returns[-1]:.1f}" if returns else "no training episode finished yet"
    print(f"trained {trainer.num_timesteps} steps (DAC); {last}; policy in {Path(args.out) / 'policy.zip'}")
