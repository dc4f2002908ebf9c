"""A fresh agent trained on a learned reward alone: no demos, no discriminator updates.

:class:`LearnedRewardVecEnv` replaces the env's reward by a reward model exported with
``genplay reward export`` (``gail/rewards/export.py``), scored on ``(obs, action, next obs,
terminated)`` once per vector step; the env's own reward stays in each step's info
(``env_reward``) and in SB3's ``Monitor`` episode returns, so logs show the true return.
:class:`RewardLearner` is SB3's PPO on that env with GAIL's input handling: observations scaled
by the reward's demo statistics (frozen), rewards divided by a running std of the return.
A run directory gets ``checkpoint.pt`` (PPO's weights and optimiser, the return scaler, the history,
torch's RNG; :mod:`state_io`, never pickled) at the end of every ``checkpoint_every`` steps' rollout,
so ``--resume`` after a kill loses at most that much.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from genplay.envs import EnvFactory, as_factory
from genplay.errors import CheckpointError
from genplay.gail.algos.config import PPOConfig
from genplay.gail.learners.learner import quiet_logger
from genplay.gail.learners.rollout import policy_obs_normalizer
from genplay.gail.rewards.export import LearnedReward, check_reward_env, load_reward
from genplay.gail.saving.sb3_io import algo_state, counter, load_weights, policy_for_space
from genplay.generative.core import atomic_write, select_device, set_torch_threads
from genplay.generative.core.state_io import load_state, save_state, sha256_bytes
from genplay.settings import Device, Int, check_fields


class LearnedRewardVecEnv(VecEnvWrapper):
    """The env with its reward replaced by ``reward(obs, action, next_obs, terminated)``."""

    def __init__(self, venv: VecEnv, reward: LearnedReward) -> None:
        check_reward_env(reward, venv.observation_space, venv.action_space, "the env of --reward")
        super().__init__(venv)
        self.reward = reward
        self._last_obs = None
        self._actions: np.ndarray | None = None

    def reset(self):
        self._last_obs = self.venv.reset()
        return self._last_obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.array(actions, copy=True)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, env_rewards, dones, infos = self.venv.step_wait()
        next_obs = _copy(obs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        for i in np.flatnonzero(dones):  # the row after an episode end is the next episode's reset
            _set_row(next_obs, i, infos[i]["terminal_observation"])
            terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        rewards = self.reward(self._last_obs, self._actions, next_obs, terminated)
        for i, info in enumerate(infos):
            info["env_reward"] = float(env_rewards[i])
        self._last_obs = obs
        return obs, rewards.astype(np.float32), dones, infos


def _copy(obs):
    return {k: np.array(v, copy=True) for k, v in obs.items()} if isinstance(obs, dict) else np.array(obs, copy=True)


def _set_row(obs, i: int, row) -> None:
    if isinstance(obs, dict):
        for k in obs:
            obs[k][i] = row[k]
    else:
        obs[i] = row


@dataclass(frozen=True)
class RewardRLConfig:
    """The fresh agent of ``--reward DIR``: PPO on the learned reward alone."""

    n_envs: int = 8
    """Parallel environments."""
    seed: int = 0
    """Seed of the policy, the envs and the action sampling."""
    normalize_obs: bool = True
    """Scale the policy's vector observations by the reward's demo statistics (frozen), as GAIL's generator."""
    scale_rewards: bool = True
    """Divide rewards by a running std of the discounted return (SB3's VecNormalize)."""
    torch_threads: int = 1
    """torch intra-op threads."""
    device: str = "auto"
    """torch device: auto, cpu, cuda:0, ..."""
    checkpoint_every: int = 50_000
    """Env steps between checkpoints of a run directory (at the end of a rollout; 0: only at the end)."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """The agent's PPO settings."""

    def __post_init__(self) -> None:
        rules = {
            "n_envs": Int(1, 1024),
            "seed": Int(0, 2**31 - 1),
            "torch_threads": Int(1, 256),
            "device": Device(),
            "checkpoint_every": Int(0, 10**12),
        }
        check_fields(self, rules)
        if not isinstance(self.ppo, PPOConfig):
            raise ValueError(f"RewardRLConfig.ppo: must be a PPOConfig, got {type(self.ppo).__name__}")


def reward_rl_preset(env_id: str) -> RewardRLConfig:
    """GAIL's tuned generator for ``env_id`` (``gail.algos.presets.preset``): its PPO and env count."""
    from genplay.gail.algos.presets import preset

    base = preset(env_id)
    return RewardRLConfig(n_envs=base.run.n_envs, seed=base.run.seed, ppo=base.ppo, device=base.run.device)


class RewardLearner:
    """PPO on :class:`LearnedRewardVecEnv`; SB3's small API (``learn``, ``predict``, ``num_timesteps``)."""

    def __init__(self, venv: VecEnv, reward: LearnedReward, config: RewardRLConfig = RewardRLConfig()) -> None:
        self.config, self.reward = config, reward
        wrapped: VecEnv = LearnedRewardVecEnv(venv, reward)
        space = venv.observation_space
        self.policy_obs_norm: VecNormalize | None = None
        if config.normalize_obs and isinstance(space, spaces.Box) and not is_image_space(space):
            mean, std = reward.net.scaling.mean.cpu().numpy(), reward.net.scaling.std.cpu().numpy()
            wrapped = self.policy_obs_norm = policy_obs_normalizer(wrapped, mean.reshape(space.shape), std**2)
        if config.scale_rewards:
            wrapped = VecNormalize(wrapped, norm_obs=False, norm_reward=True, gamma=config.ppo.gamma)
        policy = config.ppo.policy if config.ppo.policy != "auto" else policy_for_space(space)
        self.algo = PPO(
            policy, wrapped, seed=config.seed, device=select_device(config.device), verbose=0, **config.ppo.sb3_kwargs()
        )
        self.algo.set_logger(quiet_logger())  # a run directory's logger replaces it (run_files.set_run_logger)
        self.history: list[dict[str, float]] = []
        self.checkpoint_path: Path | None = None
        self._last_checkpoint = 0

    @property
    def sb3_algorithm(self) -> PPO:
        return self.algo

    @property
    def num_timesteps(self) -> int:
        return int(self.algo.num_timesteps)

    def learn(self, total_timesteps: int, *, callback: BaseCallback | None = None, progress_bar: bool = False):
        """Train until ``total_timesteps`` env steps in all (continues from ``num_timesteps``)."""
        remaining = total_timesteps - self.num_timesteps
        if remaining > 0:
            parts = [_History(self)] + ([callback] if callback is not None else [])
            self.algo.learn(
                remaining, callback=CallbackList(parts), reset_num_timesteps=False, progress_bar=progress_bar
            )
        return self

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True, action_masks=None):
        """Actions for raw observations (SB3's ``predict``; masks are not used by PPO)."""
        if self.policy_obs_norm is not None:
            obs = self.policy_obs_norm.normalize_obs(obs)
        return self.algo.predict(obs, state, episode_start, deterministic)

    def save(self, out_dir: str | Path, env: EnvFactory) -> None:
        """``policy.zip`` (SB3 loads it alone; the observation scaling inside), ``history.json``, ``config.json``."""
        from genplay.gail.saving.sb3_zip import save_sb3_zip, with_obs_scaling

        out = Path(out_dir)
        algo, norm = self.algo, self.policy_obs_norm
        if norm is not None:
            algo = with_obs_scaling(algo, norm.obs_rms.mean, np.sqrt(norm.obs_rms.var + norm.epsilon), norm.clip_obs)
        extra = {"normalize_obs": False, "obs_scaling": "in_network" if norm else "none", "env": env.to_dict()}
        save_sb3_zip(algo, out / "policy.zip", extra=extra)
        atomic_write(out / "history.json", lambda tmp: Path(tmp).write_text(json.dumps(self.history)))
        meta = {"algo": "reward", "env": env.to_dict(), "reward": self.reward.model, **dataclasses.asdict(self.config)}
        meta["reward"] = {k: v for k, v in self.reward.model.items() if k != "obs_scaling"}
        atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))

    def _return_scaler(self) -> VecNormalize | None:
        env = self.algo.get_env()
        return env if isinstance(env, VecNormalize) else None

    def save_checkpoint(self, path: str | Path) -> None:
        """Everything ``restore`` needs to go on from here, written atomically."""
        scaler = self._return_scaler()
        rms = scaler.ret_rms if scaler is not None else None
        state = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": _plain_config(self.config),
            "reward_sha256": reward_fingerprint(self.reward),
            "agent": algo_state(self.algo),
            "return_rms": None if rms is None else {"mean": rms.mean, "var": rms.var, "count": rms.count},
            "history": self.history,
            "torch_rng": torch.get_rng_state(),
        }
        save_state(path, state)
        self._last_checkpoint = self.num_timesteps

    def restore(self, path: str | Path) -> None:
        """Load a :meth:`save_checkpoint` file written with this config and reward; one error otherwise."""
        state = load_state(path)
        if state.get("format") != CHECKPOINT_FORMAT or state.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(
                f"{path}: field 'format' is {state.get('format')!r}; not a reward-training checkpoint"
            )
        if state.get("reward_sha256") != reward_fingerprint(self.reward):
            raise CheckpointError(f"{path}: field 'reward_sha256': the run was trained on another --reward")
        stored = state.get("config")
        current = _plain_config(self.config)
        if stored != current:
            diff = sorted(k for k, v in current.items() if not isinstance(stored, dict) or stored.get(k) != v)
            raise CheckpointError(
                f"{path}: cannot resume: settings differ: {', '.join(diff)} (pass --force to start over)"
            )
        try:
            agent = state["agent"]
            load_weights(self.algo, agent["policy"], agent["optimizer"], name=str(path))
            self.algo.num_timesteps = counter(agent["meta"]["num_timesteps"], "num_timesteps")
            self.algo._n_updates = counter(agent["meta"]["n_updates"], "n_updates")
            scaler, rms = self._return_scaler(), state["return_rms"]
            if scaler is not None and rms is not None:
                scaler.ret_rms.mean, scaler.ret_rms.var = float(rms["mean"]), float(rms["var"])
                scaler.ret_rms.count = float(rms["count"])
            self.history = [dict(row) for row in state["history"]]
            torch.set_rng_state(state["torch_rng"])
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            msg = " ".join(str(exc).split())[:200]
            raise CheckpointError(f"{path}: malformed reward-training state ({type(exc).__name__}: {msg})") from None
        self._last_checkpoint = self.num_timesteps


CHECKPOINT_FORMAT, CHECKPOINT_VERSION = "genplay-reward-rl", 1


def _plain_config(config: RewardRLConfig) -> dict:
    """The config as JSON types (tuples as lists), as the checkpoint stores it."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def reward_fingerprint(reward: LearnedReward) -> str:
    """A digest of the reward model's JSON and weights: a resume must use the same reward."""
    parts = [json.dumps(reward.model, sort_keys=True, default=str).encode()]
    for name, tensor in sorted(reward.net.state_dict().items()):
        parts += [name.encode(), tensor.detach().cpu().contiguous().numpy().tobytes()]
    return sha256_bytes(*parts)


class _History(BaseCallback):
    """One history row per rollout: the true episode return (Monitor's) and the learned reward's mean."""

    def __init__(self, learner: RewardLearner) -> None:
        super().__init__()
        self.learner = learner

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        buf = self.model.rollout_buffer
        row = {"timesteps": float(self.model.num_timesteps), "reward_mean": float(np.mean(buf.rewards))}
        returns = [ep["r"] for ep in self.model.ep_info_buffer]
        if returns:
            row["true_return"] = float(np.mean(returns))
        self.learner.history.append(row)
        learner, every = self.learner, self.learner.config.checkpoint_every
        if learner.checkpoint_path is not None and every and learner.num_timesteps - learner._last_checkpoint >= every:
            learner.save_checkpoint(learner.checkpoint_path)


CHECKPOINT = "checkpoint.pt"


def train_on_reward(
    env: str | EnvFactory,
    reward: str | Path | LearnedReward,
    total_timesteps: int,
    *,
    config: RewardRLConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> RewardLearner:
    """Train a fresh PPO agent on ``env`` with the learned ``reward`` (a ``reward export`` directory) alone.

    ``env`` may differ from the one the reward was learned on (its dynamics, e.g. Pendulum's ``g``),
    not in its spaces. With ``out_dir`` the directory is locked, refused when it holds a run unless
    ``resume`` (go on from its ``checkpoint.pt``, same settings and reward) or ``force``, and gets
    ``checkpoint.pt``, ``policy.zip``, ``history.json``, ``config.json`` and ``learning_curve.png``.
    """
    if not isinstance(total_timesteps, int) or isinstance(total_timesteps, bool) or total_timesteps <= 0:
        raise ValueError(f"total_timesteps must be an integer > 0, got {total_timesteps!r}")
    factory = as_factory(env)
    reward = reward if isinstance(reward, LearnedReward) else load_reward(reward)
    config = config or reward_rl_preset(factory.env_id)
    set_torch_threads(config.torch_threads)
    learner = RewardLearner(factory.make_vec(config.n_envs, seed=config.seed), reward, config)
    if out_dir is None:
        return learner.learn(total_timesteps, callback=callback, progress_bar=progress_bar)
    from genplay.gail.evaluation.plotting import plot_learning_curve
    from genplay.generative.core.rundir import run_dir_session

    out = Path(out_dir)
    markers = ("config.json", "policy.zip", CHECKPOINT)
    with run_dir_session(out, markers, checkpoint=CHECKPOINT, resume=resume, force=force):
        learner.checkpoint_path = out / CHECKPOINT
        if resume:
            learner.restore(learner.checkpoint_path)
        learner.learn(total_timesteps, callback=callback, progress_bar=progress_bar)
        learner.save_checkpoint(learner.checkpoint_path)
        learner.save(out, factory)
        plot_learning_curve(
            learner.history, out / "learning_curve.png", title=f"PPO on a learned reward: {factory.env_id}"
        )
    return learner
