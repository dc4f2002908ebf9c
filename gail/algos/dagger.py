"""DAgger (Ross, Gordon & Bagnell 2011, "A Reduction of Imitation Learning and Structured Prediction
to No-Regret Online Learning", Algorithm 3.1), read top to bottom.

Round 0 is the paper's first iteration: behaviour cloning on the initial demos, or, with none, a
rollout of the expert alone (beta = 1) labelled and cloned. Each later round i:

1. roll out the mixture ``pi_i = beta_i pi* + (1 - beta_i) pi_hat_i`` for ``steps_per_round`` env
   steps: in every env at every step the expert's action is executed with probability ``beta_i``,
   the learner's otherwise (``beta_i = beta0 * beta_decay ** i``, or the paper's indicator schedule,
   0 after round 0);
2. query the expert on EVERY visited state (``expert_queries`` counts them), board games' legal
   moves recorded with the state;
3. aggregate ``D <- D u D_i`` and retrain the learner on all of D (BC, early-stopped on held-out
   trajectory segments, warm-started from the last round's weights).

The learner is an SB3 policy (MaskablePPO's for envs with action masks, PPO's otherwise), so the
run exports a ``policy.zip`` that SB3 loads alone; observation scaling is fixed on the first data.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from genplay.envs import EnvFactory
from genplay.envs.boardgames import game_of
from genplay.errors import CheckpointError, EnvError, GenplayError
from genplay.gail.algos.bc import behaviour_clone
from genplay.gail.algos.dagger_config import DAggerConfig
from genplay.gail.algos.dagger_expert import make_oracle
from genplay.gail.algos.dagger_fit import soft_clone
from genplay.gail.algos.dagger_learner import build_learner
from genplay.gail.data.aggregate import Dataset
from genplay.gail.data.demos import Demos, check_demos_match_spaces
from genplay.generative.core.checks import check_int


class DAgger:
    """DAgger on a vector env; ``expert`` (a spec or batched callable) defaults to ``config.expert``.

    ``demos`` may be None: round 0 then rolls out the expert alone. ``learn(n)`` runs rounds until
    ``n`` rollout env steps are done or ``config.rounds`` rounds have run.
    """

    def __init__(
        self,
        *,
        venv: VecEnv,
        demos: Demos | None,
        config: DAggerConfig = DAggerConfig(),
        expert: str | Callable | None = None,
        factory: EnvFactory | None = None,
    ) -> None:
        if config.n_envs != venv.num_envs:
            config = dataclasses.replace(config, n_envs=venv.num_envs)
        if demos is not None:
            check_demos_match_spaces(demos, venv.observation_space, venv.action_space, target="the DAgger venv")
        self.config, self.demos, self.venv = config, demos, venv
        self.factory = factory or (demos.env_factory if demos is not None else None)
        if self.factory is None:
            raise EnvError("DAgger needs the env factory (give factory=... when there are no demos)")
        self.expert_spec = expert if expert is not None else config.expert
        spec = self.expert_spec
        for name in ("soft_temperature", "regret_weight"):
            if getattr(config, name) > 0 and not (isinstance(spec, str) and spec.startswith("alphabeta:")):
                raise GenplayError(
                    f"DAggerConfig.{name}: needs an alphabeta:D expert (root move values), got {spec!r}; set it to 0"
                )
        self.masked = is_masking_supported(venv)
        if config.train_opponent:
            self._set_opponent(config.train_opponent)
        self.algo = build_learner(self.venv, self.factory.env_id, config, masked=self.masked)
        self.policy_obs_norm: VecNormalize | None = None
        self.data = Dataset.from_demos(demos) if demos is not None and demos.n_transitions else None
        self.targets: np.ndarray | None = None
        """Soft targets (``soft_temperature`` or ``regret_weight`` > 0): one ``(A,)`` row per row of ``data``
        (demo rows one-hot), and ``gaps`` each legal move's value below the best (demo rows 0)."""
        self.gaps: np.ndarray | None = None
        self.held: np.ndarray | None = None
        """``fixed_holdout``: whether each segment of ``data`` is one of BC's held-out segments."""
        self.rng = np.random.default_rng(config.seed)
        self.round, self.num_timesteps, self.expert_queries = 0, 0, 0
        self.steps_per_round = 0
        self.history: list[dict[str, float]] = []

    def _set_opponent(self, spec: str) -> None:
        """Board games: every env plays ``spec`` from its next reset (each round resets them), and the
        factory records it, so a checkpoint's env and the exported policy's say whom it trained against."""
        game = game_of(self.factory.env_id)
        if game is None or not self.masked:
            raise EnvError(f"DAggerConfig.train_opponent: only for board games; {self.factory.env_id} is not one")
        from genplay.envs.board_bots import check_bot_spec

        for part in spec.split("|"):
            try:
                check_bot_spec(part, game)
            except GenplayError as exc:
                raise GenplayError(f"DAggerConfig.train_opponent: {exc}") from None
        self.venv.env_method("set_opponent", spec)
        self.factory = dataclasses.replace(self.factory, kwargs={**self.factory.kwargs, "opponent": spec})

    # ------------------------------------------------------------------ the learner
    @property
    def sb3_algorithm(self):
        return self.algo

    def _scale(self, obs):
        return obs if self.policy_obs_norm is None else self.policy_obs_norm.normalize_obs(obs)

    def _fit_scaling(self) -> None:
        """Fix the observation scaling on the first data (vectors only), as GAIL does on its demos."""
        space = self.venv.observation_space
        if not self.config.normalize_obs or self.policy_obs_norm is not None or self.data is None:
            return
        if not isinstance(space, spaces.Box) or is_image_space(space):
            return
        from genplay.gail.learners.rollout import policy_obs_normalizer

        obs = self.data.obs.astype(np.float64)
        self.policy_obs_norm = policy_obs_normalizer(self.venv, obs.mean(0), obs.var(0))

    def fit(self) -> dict[str, float]:
        """BC of the learner on the whole aggregate (warm start: the current weights)."""
        self._fit_scaling()
        data, cfg = self.data, self.config
        passes = max(1, math.ceil(cfg.bc_epoch_rows / len(data)))  # as pipeline.behaviour_cloning
        fit = dict(max_epochs=cfg.bc_epochs * passes, patience=cfg.bc_patience * passes, batch_size=cfg.bc_batch_size,
                   lr=cfg.bc_lr, rng=self.rng)  # fmt: skip
        masks = data.masks if self.masked else None
        if self.targets is not None or cfg.fixed_holdout:
            targets = self.targets if self.targets is not None else self._one_hot(data)[0]
            stats = soft_clone(self.algo.policy, self._scale(data.obs), targets, masks, data.lengths, gaps=self.gaps,
                               regret_weight=cfg.regret_weight, held_segments=self._held_segments(), **fit)  # fmt: skip
        else:
            stats = behaviour_clone(self.algo.policy, self._scale(data.obs), data.acts, episode_lengths=data.lengths,
                                    action_masks=masks, **fit)  # fmt: skip
        if isinstance(self.venv.action_space, spaces.Discrete):
            stats["fit_agreement"] = self.data_agreement()
        return stats

    def _held_segments(self) -> np.ndarray | None:
        """``fixed_holdout``: each segment of D held out or not, drawn once (20%) when it entered D, seeded by
        (seed, its round), so a resumed run draws what the uninterrupted one did; None otherwise."""
        if not self.config.fixed_holdout:
            return None
        known = 0 if self.held is None else len(self.held)
        new = len(self.data.lengths) - known
        if new > 0:
            draw = np.random.default_rng((self.config.seed, 17, self.round)).random(new) < 0.2
            if known == 0 and not draw.any() and new > 1:
                draw[-1] = True  # at least one held-out segment
            self.held = draw if self.held is None else np.concatenate([self.held, draw])
        return self.held

    def _one_hot(self, data: Dataset | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The expert's labels of ``data`` as one-hot target rows and zero regrets (the demos' moves have no
        root values)."""
        if data is None:
            return None
        out = np.zeros((len(data), int(self.venv.action_space.n)), dtype=np.float32)
        out[np.arange(len(data)), np.asarray(data.acts, dtype=np.int64).reshape(-1)] = 1.0
        return out, np.zeros_like(out)

    @torch.no_grad()
    def data_agreement(self, chunk: int = 2048) -> float:
        """Share of the aggregate's rows (80% of them BC's training rows) where the learner's greedy legal
        move is the expert's label: with the next round's ``learner_agreement`` (fresh states) it tells
        underfitting (both low) from poor generalisation (this high, that low)."""
        data, policy, hits = self.data, self.algo.policy, 0
        for start in range(0, len(data), chunk):
            rows = slice(start, start + chunk)
            obs_t = policy.obs_to_tensor(self._scale(data.obs[rows]))[0]
            masks = data.masks[rows] if self.masked and data.masks is not None else None
            dist = (
                policy.get_distribution(obs_t, action_masks=masks)
                if masks is not None
                else policy.get_distribution(obs_t)
            )
            greedy = dist.get_actions(deterministic=True).cpu().numpy().reshape(-1)
            hits += int((greedy == np.asarray(data.acts[rows]).reshape(-1)).sum())
        return hits / len(data)

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True, action_masks=None):
        """The learner's actions for raw observations (SB3's signature); masks are honoured when masked."""
        obs = self._scale(obs)
        if action_masks is not None and self.masked:
            return self.algo.predict(obs, state, episode_start, deterministic, action_masks=action_masks)
        return self.algo.predict(obs, state, episode_start, deterministic)

    # ------------------------------------------------------------------ rounds
    def learn(self, total_timesteps: int, *, checkpoint_path: str | None = None, progress_bar: bool = False):
        """Run rounds until ``total_timesteps`` rollout steps in all (or ``config.rounds`` rounds after
        round 0); with ``checkpoint_path`` the trainer is saved there after every round."""
        check_int("total_timesteps", total_timesteps, 1)
        cfg = self.config
        n_rollout_rounds = cfg.rounds + (1 if self.demos is None or self.demos.n_transitions == 0 else 0)
        if not self.steps_per_round:
            self.steps_per_round = cfg.steps_per_round or -(-total_timesteps // max(1, n_rollout_rounds))
        bar = _bar(total_timesteps, self.num_timesteps) if progress_bar else None
        while self.round <= cfg.rounds and (self.round == 0 or self.num_timesteps < total_timesteps):
            stats: dict[str, float] = {"round": float(self.round)}
            if self.round > 0 or self.data is None:
                beta = cfg.beta(self.round)
                steps = min(self.steps_per_round, total_timesteps - self.num_timesteps)
                start = time.perf_counter()
                new, roll, valued = self.rollout(max(steps, 1), beta)
                if valued is not None:
                    old = (self.targets, self.gaps) if self.targets is not None else self._one_hot(self.data)
                    self.targets, self.gaps = (
                        valued if old is None else tuple(np.concatenate(pair) for pair in zip(old, valued))
                    )
                self.data = new if self.data is None else self.data.extend(new)
                stats.update(beta=beta, **roll, rollout_s=time.perf_counter() - start)
            start = time.perf_counter()
            stats.update(self.fit())
            stats["fit_s"] = time.perf_counter() - start
            stats.update(timesteps=float(self.num_timesteps), expert_queries=float(self.expert_queries))
            stats["dataset_size"] = float(len(self.data))
            self.history.append(stats)
            self.round += 1
            if checkpoint_path is not None:
                self.save_checkpoint(checkpoint_path)
            if bar is not None:
                bar.update(self.num_timesteps - bar.n)
        if bar is not None:
            bar.close()
        return self

    def rollout(
        self, n_steps: int, beta: float
    ) -> tuple[Dataset, dict[str, float], tuple[np.ndarray, np.ndarray] | None]:
        """``n_steps`` env steps (rounded up to whole vector steps) of the beta-mixture, every state
        labelled by the expert (with soft targets and regrets when the fit uses them, else None). The envs and
        bots of round r are seeded from (seed, r), so a resumed run replays exactly the rounds an
        uninterrupted one would have."""
        venv, n_envs = self.venv, self.venv.num_envs
        round_seed = self.config.seed * 7_919 + 1_000_003 * (self.round + 1)
        oracle = make_oracle(self.expert_spec, self.factory, venv, seed=round_seed)
        venv.seed(round_seed)
        obs = venv.reset()
        segments: list[list[tuple[Any, ...]]] = [[] for _ in range(n_envs)]
        done_segments: list[list[tuple[Any, ...]]] = []
        temperature = self.config.soft_temperature
        valued = temperature > 0 or self.config.regret_weight > 0
        returns, running = [], np.zeros(n_envs)
        agree = consulted = expert_acted = 0
        discrete = isinstance(venv.action_space, spaces.Discrete)
        for _ in range(-(-n_steps // n_envs)):
            masks = get_action_masks(venv) if self.masked else None
            if valued:
                labels, soft, gaps = oracle.soft_labels(venv, temperature)
            else:
                labels, soft, gaps = oracle(obs, masks, venv), [None] * n_envs, [None] * n_envs
            self.expert_queries += n_envs
            use_expert = self.rng.random(n_envs) < beta
            if use_expert.all():
                actions = labels
            else:
                own = np.asarray(self.predict(obs, deterministic=True, action_masks=masks)[0]).reshape(labels.shape)
                if discrete:  # how often the learner alone would have chosen the expert's move
                    consulted, agree = consulted + n_envs, agree + int((own == labels).sum())
                actions = np.where(use_expert.reshape((-1,) + (1,) * (labels.ndim - 1)), labels, own)
            expert_acted += int(use_expert.sum())
            for i in range(n_envs):
                segments[i].append((obs[i], labels[i], None if masks is None else masks[i], soft[i], gaps[i]))
            obs, rewards, dones, _ = venv.step(actions)
            self.num_timesteps += n_envs
            running += rewards
            for i in np.flatnonzero(dones):
                done_segments.append(segments[i])
                segments[i] = []
                returns.append(running[i])
                running[i] = 0.0
        parts = done_segments + [s for s in segments if s]
        data = Dataset(
            np.stack([row[0] for s in parts for row in s]),
            np.stack([row[1] for s in parts for row in s]),
            None if not self.masked else np.stack([row[2] for s in parts for row in s]).astype(bool),
            np.asarray([len(s) for s in parts], dtype=np.int64),
        )
        rows = [row for s in parts for row in s]
        targets = (np.stack([r[3] for r in rows]), np.stack([r[4] for r in rows])) if valued else None
        n_rows = len(data)
        stats = {"expert_share": expert_acted / n_rows, "rollout_rows": float(n_rows)}
        if consulted:  # how often the learner already chose the expert's action on its own states
            stats["learner_agreement"] = agree / consulted
        if returns:
            stats["episode_return"] = float(np.mean(returns))
        return data, stats, targets

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        """Everything a resumed run needs: weights, the aggregate D, counters, scaling, RNG."""
        from genplay.gail.saving.checkpoint import demos_fingerprint

        norm = self.policy_obs_norm
        d = self.data
        return {
            "algo": "dagger",
            "config": dataclasses.asdict(self.config),
            "env": self.factory.to_dict(),
            "demos_sha256": None if self.demos is None else demos_fingerprint(self.demos),
            "policy": self.algo.policy.state_dict(),
            "round": self.round,
            "num_timesteps": self.num_timesteps,
            "expert_queries": self.expert_queries,
            "steps_per_round": self.steps_per_round,
            "rng": self.rng.bit_generator.state,
            "history": self.history,
            "obs_scaling": None if norm is None else {"mean": norm.obs_rms.mean, "var": norm.obs_rms.var},
            "data": None if d is None else {"obs": d.obs, "acts": d.acts, "masks": d.masks, "lengths": d.lengths},
            "targets": self.targets,
            "gaps": self.gaps,
            "held": self.held,
        }

    def save_checkpoint(self, path: str | Path) -> None:
        """The whole trainer, atomically, in the safe format (JSON + safetensors, never pickle)."""
        from genplay.generative.core.state_io import save_state

        save_state(path, self.state())

    def save(self, run_dir: str | Path) -> None:
        """A run directory: ``checkpoint.pt`` (``*.pt``: that file alone), ``policy.zip``, ``history.json``."""
        from genplay.gail.saving.dagger_files import export_dagger_policy

        path = Path(run_dir)
        if path.suffix == ".pt":
            return self.save_checkpoint(path)
        path.mkdir(parents=True, exist_ok=True)
        self.save_checkpoint(path / "checkpoint.pt")
        export_dagger_policy(self, path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        venv: VecEnv | None,
        demos: Demos | None,
        config: DAggerConfig | None = None,
        expert: str | Callable | None = None,
        factory: EnvFactory | None = None,
        state: dict | None = None,
        force: bool = False,
    ) -> DAgger:
        """Rebuild a trainer saved by :meth:`save` (run directory or checkpoint file), ready to learn on;
        ``venv`` None: built from the factory; other settings or demos are refused unless ``force``."""
        from genplay.gail.saving.dagger_files import restore_dagger
        from genplay.generative.core.state_io import load_state

        path = Path(path)
        path = path / "checkpoint.pt" if path.is_dir() else path
        state = state if state is not None else load_state(path)
        trainer = restore_dagger(cls, path, venv=venv, demos=demos, config=config, expert=expert, factory=factory,
                                 state=state, force=force)  # fmt: skip
        for name in ("targets", "gaps"):
            rows = state.get(name)
            if rows is not None:
                rows = np.asarray(rows, dtype=np.float32)
                if trainer.data is None or rows.shape != (len(trainer.data), int(trainer.venv.action_space.n)):
                    raise CheckpointError(f"{path}: field {name!r} does not match the stored data set")
            setattr(trainer, name, rows)
        held = state.get("held")
        trainer.held = None if held is None else np.asarray(held, dtype=bool)
        return trainer


def _bar(total: int, start: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, unit="step", mininterval=1.0)
