#!/usr/bin/env python
"""IQ-Learn and SQIL learn a small pixel task end to end through the CLI: ONE JSON line per run.

Issue 29's "Pixels, small". The task is Freeway at CI size: ALE's Freeway with genplay's Atari
preprocessing (sticky actions, no-op starts, frame skip 4) at 42x42 pixels with 2 stacked frames,
registered for this process as ``ci/Freeway42-v0`` on ``genplay.envs.atari:make_atari``, so
training steps on ale-py's native vector env like any ``genplay/<Game>-v0`` id. Each run:

1. demos: ``genplay demos collect --env ci/Freeway42-v0 --policy expert`` with :class:`WalkUp` as
   Freeway's expert (a crossing scores 1, a car only pushes the chicken back);
2. ``genplay train --algo A --env ci/Freeway42-v0 --demos F --out RUN`` with :data:`TRAIN_FLAGS`;
3. the run's greedy policy, loaded from RUN as ``genplay evaluate`` loads it, plays ``--eval-episodes``
   episodes cut at ``--horizon`` agent steps; WalkUp and uniform random play the same
   episodes (same seeds). ``expert_agreement``: the share of the expert's own evaluation frames
   (frames it never trained on) where the policy picks the expert's action.

``--signal off`` trains with the algorithm's learning signal switched off (:func:`signal_off`):
SQIL pays 0 on every row (demo rows and the absorbing state); IQ-Learn's loss loses every demo row
(its expert term, and the expert rows of its value and chi-squared terms). ``--signal expert-term-off``
and ``expert-phi-off`` (IQ-Learn) drop only the expert term, the linear part or the paper's whole
E_expert[phi(r)]: on this task IQ-Learn still imitates without it (see :func:`signal_off`).

    python scripts/bench_pixel_family.py --algo iq --seed 0
    python scripts/bench_pixel_family.py --algo sqil --seed 0 --signal off

Keys: algo, env, seed, signal, timesteps, learned_return_mean, expert_return, random_return,
normalised, expert_agreement, train_wall_s, env_steps_per_second, wall_s, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib, also when imported by the tests
from benchlib import ArgumentParser, count, emit, peak_rss_mb, run_main  # noqa: E402

ENV_ID = "ci/Freeway42-v0"
ATARI_OPTIONS = {"game": "freeway", "screen_size": 42, "frame_stack": 2}
"""The CI-size task: NatureCNN's smallest comfortable input (42 -> 9 -> 3 -> 1) and two frames."""
TIMESTEPS = 800
TRAIN_FLAGS = (
    "--learning-starts", "200", "--train-freq", "4", "--batch-size", "32", "--expert-batch-size", "32",
    "--buffer-size", "1000", "--checkpoint-every", "0", "--device", "cpu",
)  # fmt: skip
"""150 updates of 32 learner + 32 demo rows after 200 random steps: about 8 CPU s per run."""
SIGNALS = ("on", "off", "expert-term-off", "expert-phi-off")


def register_task() -> str:
    """Register :data:`ENV_ID` in this process (idempotent) and return it."""
    import gymnasium as gym

    from genplay.envs.atari import MAX_EPISODE_FRAMES

    if ENV_ID not in gym.registry:
        gym.register(
            ENV_ID,
            entry_point="genplay.envs.atari:make_atari",
            kwargs=dict(ATARI_OPTIONS),
            max_episode_steps=MAX_EPISODE_FRAMES // 4,
            disable_env_checker=True,
        )
    return ENV_ID


def cli(*argv: str) -> None:
    """Run ``genplay ARGV`` in this process (the console script's ``main``); a non-zero exit raises ``SystemExit``."""
    from genplay.cli import main

    code = main(list(argv))
    if code:  # its one error line is printed already
        raise SystemExit(code)


class WalkUp:
    """The CI task's demonstrator: the chicken steps up every agent step (Freeway's action 1). The package's
    Freeway expert (``envs/atari_imitable.py``) dodges cars, 28.9 a game against walking's 21.4, which an
    800-step budget at 42x42 pixels does not learn (SQIL seed 0: 0.57 normalised and 0.875 agreement at
    800 steps, 0.43 and 0.765 at 2,000). This task asks whether the learners imitate from pixels at all,
    so it keeps the one-rule demonstrator the test was built on."""

    stalled = False

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        del rng  # the experts' constructor signature; walking up needs no randomness

    def reset(self, ram: np.ndarray) -> None:
        del ram

    def act(self, ram: np.ndarray) -> int:
        del ram
        return 1


@contextlib.contextmanager
def walk_up_expert() -> Iterator[None]:
    """Freeway's expert is :class:`WalkUp` inside this block (demos and the baselines' expert games)."""
    from genplay.envs import atari_experts

    with mock.patch.dict(atari_experts.ATARI_EXPERTS, {ATARI_OPTIONS["game"]: WalkUp}):
        yield


def collect_demos_file(path: Path, n_games: int = 1, seed: int = 0) -> Path:
    """``n_games`` full games of :class:`WalkUp`, collected by ``genplay demos collect --policy expert``."""
    with walk_up_expert():
        cli("demos", "collect", "--env", register_task(), "--policy", "expert", "--n-episodes", str(n_games),
            "--seed", str(seed), "--out", str(path))  # fmt: skip
    return path


def train_run(
    algo: str, demos: Path, out: Path, *, seed: int = 0, timesteps: int = TIMESTEPS, extra: tuple[str, ...] = ()
) -> Path:
    """``genplay train --algo ALGO`` on the task with :data:`TRAIN_FLAGS` (then ``extra``); returns the run dir."""
    cli("train", "--algo", algo, "--env", register_task(), "--demos", str(demos), "--out", str(out),
        "--timesteps", str(timesteps), "--seed", str(seed), "--quiet", *TRAIN_FLAGS, *extra)  # fmt: skip
    return out


@contextlib.contextmanager
def signal_off(algo: str, part: str = "off") -> Iterator[None]:
    """Train with the algorithm's learning signal switched off, by patching its loss for the block.

    - ``sqil``: every reward is 0 (demo rows as learner rows, and the absorbing state's reward).
    - ``iq``, ``part="off"``: the demos leave the loss: the expert term -E_expert[r], r = Q(s, a) - gamma V(s'),
      the value term's expert rows and the chi-squared term's expert rows (what is left: the chi-squared
      term on the learner's own rows).
    - ``iq``, ``"expert-term-off"``: without the expert term -E_expert[r] alone; ``"expert-phi-off"``: without
      the paper's whole expert term E_expert[phi(r)], phi(x) = x - x^2 / (4 alpha) (also the chi-squared
      term's expert rows). Measured on this task (seed 0), neither stops the imitation (expert agreement
      0.99 both), for two reasons. The chi-squared term on the expert rows holds Q(s, a_expert) near
      gamma V(s') while the value term E_expert[V(s) - gamma V(s')] lowers V(s) = alpha logsumexp(Q(s, .) / alpha),
      i.e. the other actions (``--train-args '--use-target true'``, expert-term-off: 0.94). And with V(s') from
      the online network (the default) the value term also raises V at the expert's next states (the chicken
      further up): Q(s, up) = r + gamma V(higher) wins from the expert's states alone (expert-phi-off: 0.99;
      with the target network's V(s'): 0.08).
    """
    import torch

    if algo == "sqil":
        from genplay.gail.algos.sqil import SQIL

        targets = SQIL.targets

        def zero_reward_targets(self, batch):
            return targets(self, batch._replace(expert=torch.zeros_like(batch.expert)))

        with (
            mock.patch.object(SQIL, "targets", zero_reward_targets),
            mock.patch.object(SQIL, "absorbing_reward", lambda self: 0.0),
        ):
            yield
        return
    if algo != "iq" or part not in SIGNALS[1:]:
        raise ValueError(f"no learning-signal switch {part!r} for {algo!r}")
    from genplay.gail.algos.iq_learn import IQLearn

    critic_loss = IQLearn.critic_loss

    def without_demo_terms(self, batch):
        cfg, e = self.config, batch.expert
        if cfg.value_term == "v0":
            raise ValueError("signal_off: the v0 value term draws demo start states; use expert or mixed")
        loss, stats = critic_loss(self, batch)
        next_v = self.next_values(batch)
        r = torch.stack(self.q_taken(batch)) - next_v  # (critics, B), as critic_loss computes it
        demo = -r[:, e].mean()  # the expert term (averaged over SAC's critics, as the loss is)
        if part != "expert-term-off":  # the chi-squared term's expert rows (its mean over the rows it averages)
            n_rows = int(e.sum()) if cfg.chi2_rows == "expert" else len(e)
            demo = demo + r[:, e].pow(2).sum() / (r.shape[0] * n_rows * 4.0 * cfg.chi2_alpha)
        if part == "off":  # the value term's expert rows (all of it for value_term expert)
            n_rows = int(e.sum()) if cfg.value_term == "expert" else len(e)
            demo = demo + (self._values(batch.obs) - next_v)[e].sum() / n_rows
        return loss - demo, stats

    with mock.patch.object(IQLearn, "critic_loss", without_demo_terms):
        yield


def play(policy: Callable | None, episodes: int, horizon: int, seed: int) -> tuple[list[float], list, list]:
    """Scores of ``episodes`` episodes cut at ``horizon`` steps (``policy`` None: :class:`WalkUp`),
    with every frame and action the expert played (for the agreement)."""
    from genplay.envs import EnvFactory
    from genplay.envs.atari_experts import play_game

    env = EnvFactory(register_task()).make(record_ram=policy is None)
    scores, frames, acts = [], [], []
    try:
        for i in range(episodes):
            if policy is None:
                expert = WalkUp()
                on_step = lambda obs, a: (frames.append(obs), acts.append(a))  # noqa: E731
                scores.append(play_game(env, expert, seed=seed + i, on_step=on_step, max_steps=horizon).score)
                continue
            obs, _ = env.reset(seed=seed + i)
            total = 0.0
            for _ in range(horizon):
                obs, reward, terminated, truncated, _ = env.step(int(policy(obs[None])[0]))
                total += float(reward)
                if terminated or truncated:
                    break
            scores.append(total)
    finally:
        env.close()
    return scores, frames, acts


@dataclass(frozen=True)
class Baselines:
    """WalkUp's and uniform random's scores on the evaluation episodes, and the expert's
    frames and actions there (frames no demo holds: the evaluation seeds are not the demos')."""

    expert_return: float
    random_return: float
    frames: np.ndarray
    acts: np.ndarray
    episodes: int
    horizon: int
    seed: int


def baselines(*, episodes: int = 2, horizon: int = 300, seed: int = 10_000) -> Baselines:
    """Play the expert and uniform random on ``episodes`` episodes of ``horizon`` steps (seeds from ``seed``)."""
    expert, frames, acts = play(None, episodes, horizon, seed)
    rng = np.random.default_rng(seed)
    rand, _, _ = play(lambda obs: rng.integers(3, size=len(obs)), episodes, horizon, seed)
    return Baselines(float(np.mean(expert)), float(np.mean(rand)), np.stack(frames), np.asarray(acts),
                     episodes, horizon, seed)  # fmt: skip


def evaluate_run(run: Path, base: Baselines) -> dict[str, float]:
    """The run's greedy policy (as ``genplay evaluate`` loads it) on the baselines' episodes: its mean
    score, that score normalised between random (0) and the expert (1), and its expert agreement."""
    from genplay.gail.evaluation.evaluate import normalized_return
    from genplay.gail.saving.run_files import load_policy

    policy = load_policy(run, env_id=register_task())
    scores, _, _ = play(policy, base.episodes, base.horizon, base.seed)
    mean = float(np.mean(scores))
    return {
        "learned_return_mean": mean,
        "expert_return": base.expert_return,
        "random_return": base.random_return,
        "normalised": normalized_return(mean, base.expert_return, base.random_return),
        "expert_agreement": float(np.mean(policy(base.frames) == base.acts)),
    }


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", choices=("iq", "sqil"), default="iq")
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--signal", choices=SIGNALS, default="on", help="the learning signal on or switched off")
    p.add_argument("--timesteps", type=count(), default=TIMESTEPS, help="agent steps of training")
    p.add_argument("--n-demo", type=count(), default=1, help="expert games in the demos")
    p.add_argument("--eval-episodes", type=count(), default=2)
    p.add_argument("--horizon", type=count(), default=300, help="agent steps per evaluation episode")
    p.add_argument("--train-args", default="", help="more genplay train flags, e.g. '--use-target true'")
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    args = p.parse_args()
    if args.signal.startswith("expert-") and args.algo != "iq":
        p.error(f"--signal {args.signal}: only for --algo iq")
    extra = tuple(shlex.split(args.train_args))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-pixel-") as tmp:
        demos = collect_demos_file(Path(tmp) / "freeway.npz", args.n_demo, seed=args.seed)
        switch = contextlib.nullcontext() if args.signal == "on" else signal_off(args.algo, args.signal)
        t1 = time.perf_counter()
        with switch:
            run = train_run(args.algo, demos, Path(tmp) / "run", seed=args.seed, timesteps=args.timesteps, extra=extra)
        train_s = time.perf_counter() - t1
        base = baselines(episodes=args.eval_episodes, horizon=args.horizon, seed=10_000 + args.seed)
        scores = evaluate_run(run, base)
    result = {"algo": args.algo, "env": ENV_ID, "seed": args.seed, "signal": args.signal, "timesteps": args.timesteps}
    result |= {"train_args": args.train_args} if extra else {}
    result |= scores | {"train_wall_s": round(train_s, 1), "env_steps_per_second": round(args.timesteps / train_s, 1)}
    emit(result | {"wall_s": round(time.perf_counter() - t0, 1), "peak_rss_mb": peak_rss_mb()}, args.out)


if __name__ == "__main__":
    run_main(main)
