#!/usr/bin/env python
"""Synthetic data from a GAIL generator: realism-score AUCs, warm starts, GAIL augmentation, throughput.

Prints ONE JSON line as its last line (``--out`` appends it to a file):

1. a GAIL generator is trained from ``--n-demo`` expert episodes (run dir under ``--run-dir``);
2. its realism scorer (``gail/evaluation/realism.py``) is trained on the same expert demos against the
   generator's rollouts, random rollouts and action-perturbed expert rows (``--scorer-steps``);
3. ``--n-synth`` synthetic episodes are drawn from the generator (stochastic policy) and scored:
   ``synth_transitions_per_second`` is rollout plus scoring;
4. per-episode AUCs of the realism score on held-out episodes (seeds the scorer never saw),
   ``realism_auc_expert_vs_random`` (the issue's >= 0.9 target), vs an epsilon-noisy expert
   (a board game: a weak search bot), a kind of negative it never trained on, and vs the
   synthetic episodes; GAIL's own discriminator's AUCs beside them (``gail_disc_*``);
5. for each of ``--seeds`` seeds, PPO from scratch and PPO warm-started by BC (+ critic fit)
   on the synthetic data run on the true reward until a deterministic evaluation reaches
   ``--threshold`` (default: the expert's measured mean return, a level BC alone misses):
   ``steps_to_threshold_*`` per seed (None: not within ``--budget``), and BC alone (step 0) beside it;
6. for each of ``--gail-seeds`` seeds, GAIL from 2 real demos alone and from the same 2
   plus the synthetic episodes, both for ``--gail-budget`` steps: normalised returns.

    python scripts/bench_synth.py --env CartPole-v1 --seeds 5
    python scripts/bench_synth.py --env Pendulum-v1 --seeds 5
    python scripts/bench_synth.py --env genplay/ConnectFour-v0 --seeds 5
    python scripts/bench_synth.py --env genplay/Pong-v0 --seeds 0 --gail-seeds 0   (AUCs only; CPU-size run)

Board games (``genplay/*`` ids): the expert is the game's search bot of ``gail/suites/boardgame_presets.py``
(connect four: ``mcts:200`` against ``random|mcts:50``, ``--n-demo`` games), the generator masked
GAIL+BC (BC warm start, BC-regularised, mirror-augmented demos: the issue-14 recipe), and every
rollout, synthetic or PPO's, plays against ``--opponent`` (connect four: ``mcts:10``, a weak search bot);
returns are win 1, draw 0, loss -1. Every ``Setup`` field is a flag (``--threshold``, ``--budget``, ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

from benchlib import ArgumentParser, emit, peak_rss_mb

from genplay.gail.suites.boardgame_presets import DEFAULT_BC_REG as BOARD_BC_REG
from genplay.gail.suites.boardgame_presets import PRESETS as BOARD_SETUPS
from genplay.gail.suites.boardgame_presets import board_config


@dataclasses.dataclass(frozen=True)
class Setup:
    """One env's benchmark settings; every field is also a flag of the same name."""

    threshold: float | None = None  # of a deterministic evaluation's mean return (None: the expert's mean)
    gen_timesteps: int = 100_000  # GAIL generator steps
    budget: int = 200_000  # PPO steps at most, per run
    eval_every: int = 4_096  # PPO steps between evaluations
    eval_episodes: int = 5  # per evaluation
    gail_budget: int = 10_000  # steps of each few-demos GAIL run
    n_demo: int = 10  # expert episodes the generator learns from
    n_synth: int = 20  # synthetic episodes
    temperature: float = 1.0  # of the synthetic rollouts' sampling
    opponent: str = "random"  # board games: the opponent of synthesis, PPO and evaluation
    scorer_steps: int = 1500  # realism scorer optimiser steps
    scorer_batch: int = 256  # expert rows per scorer step
    ref_episodes: int = 20  # held-out reference episodes of each kind for the AUCs
    max_steps: int = 0  # Atari: cut the expert's games at this many steps (0: whole games)
    scorer_expert_games: int = 0  # board games: more expert games, against --opponent, as the scorer's positives
    scorer_random_episodes: int = 0  # uniform-random rollouts as the scorer's negatives (0: --ref-episodes)
    scorer_width: int = 64  # width of the scorer's two hidden layers
    scorer_lr: float = 1e-3  # the scorer's Adam learning rate


# Connect four's realism scorer (issue 27): from the generator's 100-200 demo games (against random|mcts:50)
# alone, a flattened-board MLP reached a held-out expert-vs-random AUC of 0.78 (a BoardCNN, symmetry images,
# lr and width did not move it past 0.85); the reference expert games are played against --opponent, so
# the scorer also gets the search bot's games against it (seeds from SCORER_EXPERT_SEED, apart from the
# demos' and the references') and random rollouts, and with that much data a wider MLP (256 x 2, lr 3e-4)
# stops overfitting. On 60 reference games each: 0.86 with 2,000 / 1,000, 0.89 with 5,000 / 2,500,
# 0.91 with 10,000 / 5,000 and 4,000 steps (about 2.5 minutes of the scorer on this CPU; README).
SCORER_EXPERT_GAMES = 10_000
SCORER_RANDOM_EPISODES = 5_000
SCORER_EXPERT_SEED = 40_000

SETUPS = {
    # the threshold is the expert's level (500): BC on 20 synthetic episodes already reached 475 at step 0
    # (issue 27), so the warm start is measured from 2 synthetic episodes, where BC alone falls short
    "CartPole-v1": Setup(None, 20_000, 100_000, 2_048, gail_budget=3_072, n_synth=2),
    # cloning continuous control needs more data (Pendulum: 20 episodes cloned to about -1300, 100 or
    # 200 to -178, which met the old -200 threshold at step 0); the threshold is the scripted expert's
    # mean return; evaluated after every rollout (4 x 1024)
    "Pendulum-v1": Setup(None, 300_000, 300_000, 4_096, gail_budget=20_480, n_synth=200),
    # Against uniform random, PPO from scratch finds its own exploit (stacking a column) at 0.9 in about
    # 50k steps and imitation has little to add (BENCHMARKS.md); against a weak search bot that punishes
    # blunders it is slow (0.5 at about 80k steps), the ground where a search expert's play should help.
    # Issue 14's recipe (200 expert games, 200k GAIL+BC steps); 200 evaluation games put a win rate's
    # std near 0.03, one after every rollout (8 x 256); T = 0.5 cloned better than greedy or T = 1
    # rollouts in a probe (BENCHMARKS.md).
    "genplay/ConnectFour-v0": Setup(
        0.5,
        200_000,
        300_000,
        2_048,
        200,
        20_480,
        n_demo=200,
        n_synth=1000,
        temperature=0.5,
        opponent="mcts:10",
        scorer_expert_games=SCORER_EXPERT_GAMES,
        scorer_random_episodes=SCORER_RANDOM_EPISODES,
        scorer_steps=4_000,
        scorer_width=256,
        scorer_lr=3e-4,
    ),
    # pixels on a 2-core CPU: a short GAIL run (the realism AUCs are the point; no warm start), the scripted
    # RAM expert's games cut at 400 steps, a scorer of 300 steps of 64 frame stacks
    "genplay/Pong-v0": Setup(
        None,
        8_192,
        0,
        4_096,
        gail_budget=0,
        n_demo=4,
        n_synth=4,
        scorer_steps=300,
        scorer_batch=64,
        ref_episodes=6,
        max_steps=400,
    ),  # fmt: skip
}


ZERO_OK = ("threshold", "max_steps", "scorer_expert_games", "scorer_random_episodes")
"""Setup fields whose 0 means something (the others must be > 0)."""


def log(msg: str) -> None:
    print(f"[bench_synth] {msg}", file=sys.stderr, flush=True)


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--gail-seeds", type=int, default=3)
    for field in dataclasses.fields(Setup):  # defaults per env (SETUPS), else Setup's
        kind = str if field.name == "opponent" else float if field.type.startswith("float") else int
        p.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=None)
    p.add_argument("--run-dir", default="runs/bench_synth")
    p.add_argument("--plot", default="bench_results/synth", help="directory for the curves plot")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    from genplay.envs.registry import check_env_id
    from genplay.errors import GenplayError

    try:
        check_env_id(args.env)
    except GenplayError as exc:
        p.error(f"--env: {exc}")
    for flag in ("seeds", "gail_seeds"):
        if getattr(args, flag) < 0:
            p.error(f"--{flag.replace('_', '-')}: must be >= 0, got {getattr(args, flag)}")
    for field in dataclasses.fields(Setup):
        value = getattr(args, field.name)
        flag = f"--{field.name.replace('_', '-')}"
        if isinstance(value, float) and not math.isfinite(value):
            p.error(f"{flag}: must be a finite number, got {value}")
        if isinstance(value, (int, float)) and field.name not in ZERO_OK and not value > 0:
            p.error(f"{flag}: must be > 0, got {value}")
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Setup) if getattr(args, f.name) is not None}
    setup = dataclasses.replace(SETUPS.get(args.env, Setup()), **given)
    from genplay.envs.boardgames import game_of

    if game_of(args.env) is None and args.opponent is not None:
        p.error(f"--opponent: only for board games, not {args.env}")
    if game_of(args.env) is not None:
        from genplay.gail.suites.boardgames import board_factory

        try:
            board_factory(game_of(args.env), setup.opponent).make().close()
        except GenplayError as exc:
            p.error(f"--opponent: {exc}")
    gen_steps, budget, every = setup.gen_timesteps, setup.budget, setup.eval_every

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.presets import preset
    from genplay.gail.algos.warmstart import learn_to_threshold, make_ppo, warm_start
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.episodes import concat_demos, select_episodes
    from genplay.gail.data.synth import SynthConfig, fit_scorer, load_generator, synthesize
    from genplay.gail.data.synth_report import board_reference_sets, evaluate_scorer, reference_sets
    from genplay.gail.evaluation.evaluate import episode_returns, normalized_return
    from genplay.gail.evaluation.realism import RealismConfig
    from genplay.gail.runs.pipeline import default_expert, train_gail

    t_all = time.perf_counter()
    from genplay.gail.algos.config import atari_game_of

    board, atari = game_of(args.env), atari_game_of(args.env)
    run = Path(args.run_dir) / args.env.replace("/", "_")
    t0 = time.perf_counter()
    if board is None:
        if atari:
            demos = atari_expert_demos(args.env, setup.n_demo, seed=30_000, max_steps=setup.max_steps)
            kind = demos.metadata["policy"]
        else:
            expert, kind = default_expert(args.env)
            demos = collect_demos(args.env, expert, setup.n_demo, seed=30_000, metadata={"policy": kind})
        log(f"GAIL generator: {gen_steps} steps from {setup.n_demo} {kind} demos -> {run}")
        train_gail(args.env, demos, gen_steps, config=replace(preset(args.env), device="cpu"), out_dir=run, force=True)
        gen = load_generator(run)
    else:
        demos, gen = board_generator(board, setup.n_demo, gen_steps, opponent=setup.opponent)
    gen_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    scorer_config = RealismConfig(
        steps=setup.scorer_steps,
        batch_size=setup.scorer_batch,
        hidden=(setup.scorer_width,) * 2,
        lr=setup.scorer_lr,
    )
    n_roll = setup.ref_episodes
    n_random = setup.scorer_random_episodes or n_roll
    scorer_expert = demos
    if board is not None and setup.scorer_expert_games:
        from genplay.gail.suites.boardgames import collect_bot_demos

        log(f"realism scorer: {setup.scorer_expert_games} more {BOARD_SETUPS[board].expert} games vs {setup.opponent}")
        extra = collect_bot_demos(board, BOARD_SETUPS[board].expert, setup.scorer_expert_games,
                                  opponent=setup.opponent, seed=SCORER_EXPERT_SEED)  # fmt: skip
        scorer_expert = concat_demos([demos, extra])
    gen = dataclasses.replace(
        gen, scorer=fit_scorer(gen, scorer_expert, config=scorer_config, generator_episodes=n_roll,
                               random_episodes=n_random, log=log),
    )  # fmt: skip
    scorer_seconds = time.perf_counter() - t0
    synth = synthesize(gen, SynthConfig(n_episodes=setup.n_synth, seed=0, temperature=setup.temperature))
    timing = synth.metadata["synth"]["timing"]
    log(f"synthetic: {synth.n_episodes} episodes, return {synth.episode_returns().mean():.1f}; {timing}")

    if board is not None:
        refs = board_reference_sets(board, gen, n_roll, seed=60_000)
    elif atari:
        refs = atari_reference_sets(args.env, n_roll, max_steps=setup.max_steps)
    else:
        refs = reference_sets(gen, n_roll)
    ev = evaluate_scorer(gen, {**refs, "gail": synth})
    ev.pop("_sep")
    unseen = "noisy_expert" if "noisy_expert" in refs else "weak_bot"
    expert_r, random_r = float(refs["expert"].episode_returns().mean()), float(refs["random"].episode_returns().mean())
    threshold = setup.threshold if setup.threshold is not None else expert_r
    log(f"realism AUC expert vs random {ev['auc_expert_vs_random']}, vs {unseen} {ev[f'auc_expert_vs_{unseen}']}, "
        f"vs gail {ev['auc_expert_vs_gail']}; GAIL's discriminator: {ev.get('gail_discriminator')}")  # fmt: skip

    curves: dict[str, list] = {"scratch": [], "warm": []}
    steps: dict[str, list] = {"scratch": [], "warm": []}
    bc_returns, bc_stats = [], []
    for seed in range(args.seeds):
        for mode in ("scratch", "warm"):
            model = make_ppo(gen.env, seed)
            if mode == "warm":
                stats = warm_start(model, synth, seed=seed)
                bc_stats.append({k: round(float(v), 4) for k, v in stats.items()})
            curve = learn_to_threshold(
                model, gen.env, threshold=threshold, budget=budget, eval_every=every,
                eval_episodes=setup.eval_episodes, seed=70_000 + 100 * seed,
            )  # fmt: skip
            if mode == "warm":
                bc_returns.append(curve.points[0][1])
            curves[mode].append(curve.points)
            steps[mode].append(curve.steps_to_threshold)
            log(f"seed {seed} {mode}: steps to {threshold}: {curve.steps_to_threshold} ({curve.points[-3:]})")

    def median_steps(values: list) -> float | None:
        if not values:
            return None
        return float(np.median([budget * 10 if v is None else v for v in values]))  # a miss counts as far beyond

    ratio = median_steps(steps["warm"]) / max(median_steps(steps["scratch"]), 1) if args.seeds else None

    real2 = select_episodes(demos, [0, 1][: demos.n_episodes])
    mixed = concat_demos([real2, dataclasses.replace(synth, scores=None)])
    gail_norm: dict[str, list] = {"real2": [], "real2_plus_synth": []}
    for seed in range(args.gail_seeds):
        for name, data in (("real2", real2), ("real2_plus_synth", mixed)):
            if board is None:
                config = replace(preset(args.env), seed=seed, device="cpu")
                trainer = train_gail(args.env, data, setup.gail_budget, config=config)
            else:
                trainer = board_gail(board, data, setup.gail_budget, seed=seed, factory=gen.env)
            r = float(
                episode_returns(gen.env, trainer, setup.eval_episodes if board else 10, seed=80_000 + seed).mean()
            )
            gail_norm[name].append(round(normalized_return(r, expert_r, random_r), 3))
            log(f"GAIL seed {seed} {name}: return {r:.1f}")

    plot = Path(args.plot) / f"{args.env.replace('/', '_')}_warm_start.png"
    if args.seeds:
        _plot_curves(curves, threshold, plot, args.env)
    emit(
        {
            "env": args.env,
            "seeds": args.seeds,
            "threshold": threshold,
            "steps_to_threshold_scratch": steps["scratch"],
            "steps_to_threshold_warm": steps["warm"],
            "median_steps_scratch": median_steps(steps["scratch"]),
            "median_steps_warm": median_steps(steps["warm"]),
            "warm_over_scratch_median": None if ratio is None else round(ratio, 3),
            "bc_only_return_per_seed": bc_returns,
            "bc_only_meets_threshold": [bool(r >= threshold) for r in bc_returns],
            "warm_start_stats": bc_stats,
            "ppo_budget": budget,
            "eval_every": every,
            "eval_episodes": setup.eval_episodes,
            "realism_auc_expert_vs_random": ev["auc_expert_vs_random"],
            "realism_auc_unseen_negative": unseen,
            "realism_auc_expert_vs_unseen": ev[f"auc_expert_vs_{unseen}"],
            "realism_auc_expert_vs_gail": ev["auc_expert_vs_gail"],
            "realism_auc_expert_vs_random_transitions": ev["auc_expert_vs_random_transitions"],
            "realism_auc_expert_vs_unseen_transitions": ev[f"auc_expert_vs_{unseen}_transitions"],
            "realism_warning": ev["warning"],
            "scorer_validation": ev["scorer_validation"],
            "scorer_config": dataclasses.asdict(scorer_config),
            "scorer_train_seconds": round(scorer_seconds, 1),
            "scorer_expert_episodes": scorer_expert.n_episodes,
            "scorer_random_episodes": n_random,
            "reference_episodes": ev["check"]["episodes"],
            "gail_disc_auc_expert_vs_random": (ev.get("gail_discriminator") or {}).get("auc_expert_vs_random"),
            "gail_disc_auc_expert_vs_gail": (ev.get("gail_discriminator") or {}).get("auc_expert_vs_gail"),
            "synth_transitions_per_second": timing["transitions_per_second"],
            "synth_episodes": synth.n_episodes,
            "synth_transitions": synth.n_transitions,
            "synth_return_mean": round(float(synth.episode_returns().mean()), 2),
            "expert_return": round(expert_r, 2),
            "random_return": round(random_r, 2),
            "gail_seeds": args.gail_seeds,
            "gail_budget": setup.gail_budget,
            "gail_normalized_real2": gail_norm["real2"],
            "gail_normalized_real2_plus_synth": gail_norm["real2_plus_synth"],
            "generator_steps": gen_steps,
            "generator_demos": setup.n_demo,
            "generator": "GAIL" if board is None else f"masked GAIL+BC (BC-reg {BOARD_BC_REG}, mirror-augmented)",
            "expert": "scripted or PPO expert" if board is None else BOARD_SETUPS[board].expert,
            "setup": dataclasses.asdict(setup),
            "generator_train_seconds": round(gen_seconds, 1),
            "curves": curves,
            "plot": str(plot) if args.seeds else None,
            "wall_seconds": round(time.perf_counter() - t_all, 1),
            "loadavg1": round(os.getloadavg()[0], 2),
            "ncpu": os.cpu_count(),
            "peak_rss_mb": peak_rss_mb(),
        },
        args.out,
    )


def board_generator(game: str, n_games: int, timesteps: int, *, opponent: str, seed: int = 0):
    """Demos of the game's search bot, and masked GAIL+BC trained on them (issue 14's recipe),
    as a generator whose env plays against ``opponent``."""
    from genplay.gail.data.synth import generator_from_trainer
    from genplay.gail.suites.boardgames import board_factory, collect_bot_demos

    setup = BOARD_SETUPS[game]
    demos = collect_bot_demos(game, setup.expert, n_games, opponent=setup.demo_opponents, seed=30_000)
    log(f"masked GAIL+BC generator: {timesteps} steps from {n_games} {setup.expert} games")
    trainer = board_gail(game, demos, timesteps, seed=seed)
    gen = generator_from_trainer(trainer, source=f"masked GAIL+BC on {n_games} {setup.expert} games")
    return demos, dataclasses.replace(gen, env=board_factory(game, opponent, None))


def board_gail(game: str, demos, timesteps: int, *, seed: int, factory=None):
    """Masked GAIL+BC (BC warm start, ``BOARD_BC_REG`` BC steps after each PPO update) on mirror-augmented demos."""
    from genplay.gail.algos.board_training import masked_gail
    from genplay.gail.algos.config import replace

    config = board_config(BOARD_SETUPS[game], seed=seed)  # symmetry-augmented demos; this recipe's BC pull, MLP
    config = replace(config, bc_epochs=100, bc_reg_steps=BOARD_BC_REG, symmetric_policy=False, train_opponent="")
    return masked_gail(demos, config, timesteps, factory=factory)


def atari_expert_demos(env_id: str, n_games: int, *, seed: int, max_steps: int, epsilon: float = 0.0):
    """The scripted RAM expert's games (``epsilon``: that share of its actions uniformly random)."""
    from unittest import mock

    from genplay.envs import as_factory
    from genplay.envs.atari_experts import ATARI_EXPERTS
    from genplay.gail.suites.atari import scripted_expert_demos

    factory = as_factory(env_id)
    game = factory.atari_config.game
    make = ATARI_EXPERTS[game]
    noisy = {game: lambda rng: NoisyRamExpert(make(rng), epsilon, factory.make().action_space.n, rng)}
    with mock.patch.dict(ATARI_EXPERTS, noisy if epsilon else {}):
        return scripted_expert_demos(factory, n_games, seed=seed, max_steps=max_steps or None)


class NoisyRamExpert:
    """A RAM expert that plays a uniformly random action with probability ``epsilon``."""

    def __init__(self, expert, epsilon: float, n_actions: int, rng) -> None:
        self.expert, self.epsilon, self.n_actions, self.rng = expert, epsilon, n_actions, rng

    def reset(self, ram) -> None:
        self.expert.reset(ram)

    def act(self, ram) -> int:
        a = self.expert.act(ram)  # the expert keeps tracking the game either way
        return int(self.rng.integers(self.n_actions)) if self.rng.random() < self.epsilon else a

    @property
    def stalled(self) -> bool:
        return self.expert.stalled


def atari_reference_sets(env_id: str, episodes: int, *, max_steps: int, seed: int = 60_000) -> dict:
    """Expert, random and epsilon-noisy expert games on held-out seeds (games cut at ``max_steps``)."""
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.synth_report import NOISY_EPSILON

    rand = collect_demos(env_id, "random", episodes, seed=seed + 10_000, metadata={"policy": "random"})
    return {
        "expert": atari_expert_demos(env_id, episodes, seed=seed, max_steps=max_steps),
        "random": rand,
        "noisy_expert": atari_expert_demos(env_id, episodes, seed=seed + 15_000, max_steps=max_steps,
                                           epsilon=NOISY_EPSILON),
    }  # fmt: skip


def _plot_curves(curves: dict[str, list], threshold: float, path: Path, env: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for mode, color in (("scratch", "tab:gray"), ("warm", "tab:blue")):
        for i, points in enumerate(curves[mode]):
            xs, ys = zip(*points)
            ax.plot(xs, ys, "o-", color=color, alpha=0.7, ms=3, label=f"PPO {mode}" if i == 0 else None)
    ax.axhline(threshold, color="green", ls="--", label="threshold")
    ax.set(xlabel="PPO env steps (true reward)", ylabel="evaluation return")
    ax.set_title(f"{env}: warm start on synthetic data")
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
