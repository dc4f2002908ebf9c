"""Vector-env wrappers that let any SB3 on-policy algorithm be GAIL's generator.

:class:`TransitionRecorder` sits between the env and the algorithm. It hands the
algorithm a reward of 0 and records each step's raw ``(obs, action, next_obs,
terminated)``; when the rollout is complete, the trainer scores the whole rollout in
one batched discriminator pass and writes the rewards into the algorithm's rollout
buffer (see ``GAIL._relabel``). No Python work per env per step beyond SB3's own.
Because SB3 adds ``gamma * V(terminal_obs)`` to the (zero) reward of time-limit
truncations, those bootstrap terms survive the relabelling untouched.
"""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper


class TransitionRecorder(VecEnvWrapper):
    """Record raw transitions of a rollout and replace the env reward by 0."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self._last_obs = None
        self._actions = None
        self.episode_steps = np.zeros(self.num_envs, dtype=np.int64)
        self.clear()

    def clear(self) -> None:
        self.obs: list = []
        self.acts: list = []
        self.next_obs: list = []
        self.terminated: list = []
        self.env_rewards: list = []
        self.steps_done: list = []
        self.dones: list = []

    def reset(self):
        self._last_obs = self.venv.reset()
        self.episode_steps[:] = 0
        return self._last_obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.array(actions, copy=True)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        next_obs = _copy_obs(obs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        self.episode_steps += 1
        self.steps_done.append(self.episode_steps.copy())
        self.episode_steps[dones] = 0
        for i in np.flatnonzero(dones):  # only at episode ends
            _set_row(next_obs, i, infos[i]["terminal_observation"])
            terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        self.obs.append(self._last_obs)
        self.acts.append(self._actions)
        self.next_obs.append(next_obs)
        self.terminated.append(terminated)
        self.env_rewards.append(rewards)
        self.dones.append(dones.copy())
        self._last_obs = obs
        return obs, np.zeros_like(rewards), dones, infos

    def collect(self) -> dict:
        """The recorded rollout as arrays with leading dims ``(n_steps, n_envs)``; then clear."""
        out = {
            "obs": _stack(self.obs),
            "acts": np.stack(self.acts),
            "next_obs": _stack(self.next_obs),
            "terminated": np.stack(self.terminated),
            "env_rewards": np.stack(self.env_rewards),
            "episode_steps": np.stack(self.steps_done),
            "dones": np.stack(self.dones),
        }
        self.clear()
        return out


class SharedObsNormalize(VecEnvWrapper):
    """Normalise the policy's observations with statistics owned by someone else.

    GAIL passes the discriminator's running mean/std, so the policy and the
    discriminator see identically scaled inputs. This wrapper never updates the
    statistics; terminal observations are normalised too, since SB3 bootstraps on them.
    """

    def __init__(self, venv: VecEnv, obs_rms: RunningMeanStd, *, clip: float = 10.0) -> None:
        super().__init__(venv)
        self.obs_rms, self.clip = obs_rms, clip

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        scaled = (obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + 1e-8)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def reset(self):
        return self.normalize(self.venv.reset())

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        for i in np.flatnonzero(dones):
            if "terminal_observation" in infos[i]:
                infos[i]["terminal_observation"] = self.normalize(infos[i]["terminal_observation"])
        return self.normalize(obs), rewards, dones, infos


def _copy_obs(obs):
    return {k: v.copy() for k, v in obs.items()} if isinstance(obs, dict) else obs.copy()


def _set_row(obs, i: int, value) -> None:
    if isinstance(obs, dict):
        for k in obs:
            obs[k][i] = value[k]
    else:
        obs[i] = value


def _stack(rows: list):
    if rows and isinstance(rows[0], dict):
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    return np.stack(rows)


class ReturnScaler:
    """Divide rewards by a running std of the discounted return (as SB3's VecNormalize does).

    GAIL rewards (and absorbing-tail values) can be large; unscaled, the value loss then
    dominates PPO's joint gradient clipping and starves the policy of updates.
    """

    def __init__(self, n_envs: int, gamma: float) -> None:
        self.gamma = gamma
        self.rms = RunningMeanStd(shape=())
        self.running_return = np.zeros(n_envs)

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Scale ``(n_steps, n_envs)`` rewards; ``dones`` marks the last step of each episode."""
        returns = np.empty_like(rewards, dtype=np.float64)
        for t in range(len(rewards)):  # one vector op per step, over all envs
            self.running_return = self.running_return * self.gamma + rewards[t]
            returns[t] = self.running_return
            self.running_return[dones[t]] = 0.0
        self.rms.update(returns.reshape(-1))
        return rewards / np.sqrt(self.rms.var + 1e-8)

    def state_dict(self) -> dict:
        return {"mean": self.rms.mean, "var": self.rms.var, "count": self.rms.count, "ret": self.running_return}

    def load_state_dict(self, state: dict) -> None:
        self.rms.mean, self.rms.var, self.rms.count = state["mean"], state["var"], state["count"]
        self.running_return = np.asarray(state["ret"])
