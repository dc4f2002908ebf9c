"""Synthetic trajectories from a trained GAIL generator, scored by a realism scorer.

A trained run (``genplay gail train``'s output dir) holds the generator's policy
(``policy.zip``), the GAIL discriminator (inside ``checkpoint.pt``) and, once
``genplay synth scorer`` has trained it, the realism scorer (``realism.pt``,
:mod:`genplay.gail.evaluation.realism`). :func:`synthesize` rolls the policy out on its env for N
episodes with diversity controls (stochastic or deterministic actions, a sampling
temperature, seeds, random start perturbation), then scores every transition with the
realism scorer (its probability that the transition is the expert's; an episode's score is
the mean over its transitions). GAIL's own discriminator is not the score: near the
adversarial equilibrium it is about 0.5 everywhere and can rank random above expert
(see :mod:`genplay.gail.evaluation.realism`). The result is an ordinary
:class:`Demos` (so it trains GAIL or BC, saves as ``.npz`` or exports to Minari) whose
``scores`` field holds the per-transition scores and whose ``metadata["synth"]`` holds
the provenance: generator files and their sha256, settings, each episode's seed and score.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from genplay.envs import EnvFactory
from genplay.errors import CheckpointError, GenplayError
from genplay.gail.data.collect import PolicyFn, collect_demos, env_action_masks
from genplay.gail.data.demos import Demos
from genplay.gail.data.episodes import concat_demos, select_episodes
from genplay.gail.data.store import TransitionStore
from genplay.gail.evaluation.realism import (
    GENERATOR_SEED,
    RANDOM_SEED,
    SCORE_DEFINITION,
    SCORER_FILE,
    RealismConfig,
    RealismScorer,
    load_scorer,
    train_scorer,
)
from genplay.gail.rewards.discriminator import TransitionDiscriminator
from genplay.settings import POSITIVE, Int, check_fields, flag_label


@dataclass(frozen=True)
class SynthConfig:
    """How synthetic episodes are rolled out."""

    n_episodes: int = 20
    """episodes to generate"""
    seed: int = 0
    """episode i resets its env with seed + i (and its start perturbation draws from it)"""
    deterministic: bool = False
    """take the policy's mode instead of sampling (no temperature then)"""
    temperature: float = 1.0
    """sampling temperature: logits / T for discrete actions, noise x T around the mean for continuous ones"""
    perturb_steps: int = 0
    """before recording, take 0..perturb_steps uniformly random actions (diverse start states)"""
    batch: int = 64
    """episodes rolled out side by side"""

    def __post_init__(self) -> None:
        rules = {"n_episodes": Int(1), "seed": Int(0, 2**31 - 1), "temperature": POSITIVE}
        check_fields(self, {**rules, "perturb_steps": Int(0), "batch": Int(1)}, flag_label)


@dataclass(frozen=True)
class Generator:
    """A trained generator: the SB3 model, its observation normaliser, the GAIL discriminator, the env,
    and the realism scorer that scores its episodes (None until ``genplay synth scorer`` trains one)."""

    model: Any
    normalize: Callable[[np.ndarray], np.ndarray] | None
    disc: TransitionDiscriminator | None
    env: EnvFactory
    provenance: dict[str, Any]
    scorer: RealismScorer | None = None
    hide_top_rows: int = 0
    """frame rows the run's discriminator hides (Atari score displays); the realism scorer hides them too"""


def _file_sha256(path: Path) -> str:
    """The file's sha256 as ``sha256sum`` prints it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_generator(run_dir: str | Path) -> Generator:
    """The generator of a ``gail train`` output dir (or a policy zip alone: then no scores), unpickled never."""
    from genplay.gail.saving.checkpoint import checkpoint_config, read_checkpoint
    from genplay.gail.saving.run_files import CHECKPOINT, POLICY, load_policy_model

    path = Path(run_dir)
    model, normalize, extra = load_policy_model(path)
    if "env" not in extra:
        raise CheckpointError(f"{path}: the policy names no env (not exported by genplay); cannot roll it out")
    env = EnvFactory.from_dict(extra["env"], source=str(path))
    zip_path = path / POLICY if path.is_dir() else path
    provenance: dict[str, Any] = {"path": str(path), "policy_sha256": _file_sha256(zip_path), "env": env.to_dict()}
    disc, hide = None, 0
    ckpt = path / CHECKPOINT if path.is_dir() else None
    if ckpt is not None and ckpt.is_file():
        state = read_checkpoint(ckpt)
        config = checkpoint_config(state, ckpt)
        disc = TransitionDiscriminator.from_config(model.observation_space, model.action_space, config)
        try:
            disc.load_state_dict(state["disc"])
        except (RuntimeError, KeyError, TypeError) as exc:
            msg = " ".join(str(exc).split())[:200]
            raise CheckpointError(f"{ckpt}: field 'disc' does not fit this discriminator ({msg})") from None
        disc.eval()
        hide = int(config.reward.disc_hide_top_rows)
        provenance.update(
            checkpoint_sha256=_file_sha256(ckpt), timesteps=int(state["generator"]["meta"]["num_timesteps"])
        )
    scorer = None
    if path.is_dir() and (path / SCORER_FILE).is_file():
        scorer_path = path / SCORER_FILE
        scorer = load_scorer(scorer_path, observation_space=model.observation_space, action_space=model.action_space)
        provenance["scorer_sha256"] = _file_sha256(scorer_path)
    return Generator(model, normalize, disc, env, provenance, scorer, hide)


def generator_from_trainer(trainer, *, source: str = "in-memory trainer") -> Generator:
    """The generator of a live GAIL trainer (tests and benchmarks skip the round trip through files)."""
    norm = trainer.policy_obs_norm
    provenance = {"path": source, "env": trainer.demos.env_factory.to_dict(), "timesteps": trainer.num_timesteps}
    return Generator(
        trainer.gen_algo,
        None if norm is None else norm.normalize_obs,
        trainer.disc,
        trainer.demos.env_factory,
        provenance,
        hide_top_rows=int(trainer.config.reward.disc_hide_top_rows),
    )


# ---------------------------------------------------------------------------- rollouts


def make_sampler(gen: Generator, *, deterministic: bool, temperature: float = 1.0) -> PolicyFn:
    """A batched policy ``act(obs, action_masks=None)`` drawing from the generator's action distribution.

    Discrete actions sample ``softmax(logits / T)``; continuous ones ``mode + T * (sample - mode)``,
    clipped to the action bounds as SB3's ``predict`` does. Draws use torch's global RNG
    (:func:`synthesize` seeds it).
    """
    policy, space = gen.model.policy, gen.model.action_space
    if temperature != 1.0 and not deterministic and not isinstance(space, (spaces.Discrete, spaces.Box)):
        raise GenplayError(f"--temperature: only for Discrete and Box action spaces, not {type(space).__name__}")
    maskable = "action_masks" in inspect.signature(policy.get_distribution).parameters

    @torch.no_grad()
    def act(obs, action_masks=None) -> np.ndarray:
        x = gen.normalize(obs) if gen.normalize is not None else obs
        obs_t, _ = policy.obs_to_tensor(x)
        dist = policy.get_distribution(obs_t, action_masks=action_masks) if maskable else policy.get_distribution(obs_t)
        if deterministic:
            a = dist.mode()
        elif isinstance(space, spaces.Discrete):
            a = torch.distributions.Categorical(logits=dist.distribution.logits / temperature).sample()
        elif isinstance(space, spaces.Box):
            mode = dist.mode()
            a = mode + temperature * (dist.sample() - mode)
        else:
            a = dist.sample()
        out = a.cpu().numpy()
        if isinstance(space, spaces.Box):
            if getattr(policy, "squash_output", False):
                out = policy.unscale_action(out)
            return np.clip(out, space.low, space.high).astype(space.dtype)
        return out.reshape(len(out), *space.shape).astype(np.int64)

    return act


class RandomStartSteps(gym.Wrapper):
    """On reset, take ``0..max_steps`` uniformly random (legal) actions, drawn from the reset seed."""

    def __init__(self, env: gym.Env, max_steps: int) -> None:
        super().__init__(env)
        self.max_steps = max_steps
        self._space = copy.deepcopy(env.action_space)  # own RNG
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._space.seed(seed)
        for _ in range(int(self._rng.integers(self.max_steps + 1))):
            mask = env_action_masks(self.env)
            a = self._space.sample() if mask is None else self._space.sample(mask=mask.astype(np.int8))
            obs, _, term, trunc, info = self.env.step(a)
            if term or trunc:  # the perturbation ended the episode: start it plainly instead
                return self.env.reset()
        return obs, info


@dataclass(frozen=True)
class _PerturbedStarts(EnvFactory):
    """An env factory whose envs start after a few random actions (rollouts only; never saved)."""

    perturb_steps: int = 0

    def make(self, **extra: Any) -> gym.Env:
        env = super().make(**extra)
        return RandomStartSteps(env, self.perturb_steps) if self.perturb_steps else env


def score_transitions(disc: TransitionDiscriminator, demos: Demos) -> np.ndarray:
    """GAIL's ``D(s, a)`` of every transition of ``demos`` (float32, in [0, 1]); ``synth report`` shows it
    beside the realism scorer's, as the reference it replaces."""
    store = TransitionStore.from_episodes(demos.obs, demos.acts, demos.episode_lengths, with_next=disc.use_next_obs)
    with torch.no_grad():
        return torch.sigmoid(disc.logits(store)).cpu().numpy().astype(np.float32)


def episode_scores(demos: Demos, scores: np.ndarray | None = None) -> np.ndarray:
    """Mean transition score of each episode (``scores`` default: ``demos.scores``)."""
    scores = demos.scores if scores is None else scores
    if scores is None:
        raise GenplayError("these demos carry no realism scores (train a scorer first: genplay synth scorer --run RUN)")
    ends = np.cumsum(demos.episode_lengths)
    return (np.add.reduceat(scores.astype(np.float64), ends - demos.episode_lengths) / demos.episode_lengths).round(6)


def synthesize(gen: Generator, config: SynthConfig = SynthConfig()) -> Demos:
    """``config.n_episodes`` scored synthetic episodes of ``gen`` with their provenance (see module doc)."""
    act = make_sampler(gen, deterministic=config.deterministic, temperature=config.temperature)
    env = gen.env
    factory = _PerturbedStarts(env.env_id, env.kwargs, env.wrappers, perturb_steps=config.perturb_steps)
    parts = []
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        for start in range(0, config.n_episodes, config.batch):
            if getattr(gen.model, "use_sde", False):
                gen.model.policy.reset_noise()
            n = min(config.batch, config.n_episodes - start)
            parts.append(collect_demos(factory, act, n, seed=config.seed + start, deterministic=config.deterministic))
    rollout_s = time.perf_counter() - t0
    demos = dataclasses.replace(concat_demos(parts, metadata={}), env=env)
    t1 = time.perf_counter()
    scores = gen.scorer.transition_scores(demos) if gen.scorer is not None else None
    score_s = time.perf_counter() - t1
    synth: dict[str, Any] = {
        "generator": gen.provenance,
        "settings": dataclasses.asdict(config),
        "episode_seeds": [config.seed + i for i in range(config.n_episodes)],
        "timing": {
            "rollout_seconds": round(rollout_s, 4),
            "score_seconds": round(score_s, 4),
            "transitions_per_second": round(demos.n_transitions / max(rollout_s + score_s, 1e-9), 1),
        },
    }
    if scores is not None:
        synth.update(
            score=SCORE_DEFINITION,
            scorer={"validation": gen.scorer.validation, "trained_on": gen.scorer.provenance},
            episode_scores=episode_scores(demos, scores).tolist(),
        )
    return dataclasses.replace(demos, scores=scores, metadata={"policy": "genplay-synth", "synth": synth})


# ---------------------------------------------------------------------------- filtering


def filter_by_score(demos: Demos, *, min_score: float | None = None, top: int | None = None) -> Demos:
    """The episodes whose score is at least ``min_score``, best first, at most ``top`` of them.

    The provenance's per-episode lists follow the selection, and the filter is recorded.
    """
    scores = episode_scores(demos)
    if not np.isfinite(scores).all():  # NaN sorts anywhere: a ranking by it would be silently wrong
        bad = int((~np.isfinite(scores)).sum())
        raise GenplayError(f"--top/--min-score: {bad} of {len(scores)} episode scores are NaN or inf; refusing to rank")
    order = np.argsort(-scores, kind="stable")
    if min_score is not None:
        order = order[scores[order] >= min_score]
    if top is not None:
        if top < 1:
            raise GenplayError(f"--top: must be >= 1, got {top}")
        order = order[:top]
    if len(order) == 0:
        raise GenplayError(f"--min-score: no episode scores {min_score} or more (best: {scores.max():.4f})")
    meta = copy.deepcopy(demos.metadata)
    synth = meta.setdefault("synth", {})
    for key in ("episode_seeds", "episode_scores"):
        if isinstance(synth.get(key), list) and len(synth[key]) == demos.n_episodes:
            synth[key] = [synth[key][i] for i in order]
    synth.setdefault("filters", []).append(
        {"min_score": min_score, "top": top, "kept": int(len(order)), "of": demos.n_episodes}
    )
    return select_episodes(demos, order, metadata=meta)


# ---------------------------------------------------------------------------- after GAIL


def fit_scorer(
    gen,
    expert: Demos,
    *,
    config: RealismConfig = RealismConfig(),
    generator_episodes: int = 20,
    random_episodes: int = 20,
    log=None,
) -> RealismScorer:
    """Train a scorer for the generator ``gen`` (a :class:`Generator`) on ``expert``.

    The generator is rolled out as ``synth`` rolls it (sampled actions, T = 1) on seeds from
    ``GENERATOR_SEED``, random play on seeds from ``RANDOM_SEED``: apart from ``synth``'s
    defaults and ``synth report``'s, so neither is scored on episodes the scorer trained on.
    """
    if log is not None:
        log(f"realism scorer: rolling out {generator_episodes} generator and {random_episodes} random episodes")
    rollouts = synthesize(dataclasses.replace(gen, scorer=None), SynthConfig(generator_episodes, seed=GENERATOR_SEED))
    rand = collect_demos(gen.env, "random", random_episodes, seed=RANDOM_SEED, metadata={"policy": "random"})
    provenance = {
        "generator": {k: gen.provenance.get(k) for k in ("path", "policy_sha256", "checkpoint_sha256", "timesteps")},
        "expert_policy": str(expert.metadata.get("policy", "unknown")),
        "seeds": {
            "generator": [GENERATOR_SEED, GENERATOR_SEED + generator_episodes - 1],
            "random": [RANDOM_SEED, RANDOM_SEED + random_episodes - 1],
        },
    }
    return train_scorer(
        expert,
        {"generator": dataclasses.replace(rollouts, scores=None), "random": rand},
        config=config,
        hide_top_rows=gen.hide_top_rows,
        provenance=provenance,
        log=log,
    )
