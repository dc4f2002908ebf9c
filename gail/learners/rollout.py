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
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from genplay.errors import EnvError
from genplay.generative.core.distributed import DistContext, combine_moments


class TransitionRecorder(VecEnvWrapper):
    """Record raw transitions of a rollout and replace the env reward by 0.

    Observations are kept as the vec env returns them (SB3's vec envs hand out fresh
    arrays, so nothing is copied); next observations are not recorded twice: only the
    terminal observations at episode ends and the final observation of the rollout.
    """

    def __init__(self, venv: VecEnv) -> None:
        if _find_wrapper(venv, VecNormalize) is not None:
            raise EnvError(
                "GAIL's venv holds a VecNormalize: it would change the observations the discriminator compares "
                "with the demos and the rewards GAIL replaces; pass the raw env (GAIL scales both itself)"
            )
        super().__init__(venv)
        self._last_obs = None
        self._actions = None
        self.clear()

    def clear(self) -> None:
        self.obs: list = []
        self.acts: list = []
        self.terminated: list = []
        self.dones: list = []
        self.terminal_obs: list = []

    def reset(self):
        self._last_obs = self.venv.reset()
        return self._last_obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.array(actions, copy=True)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        terminated = np.zeros(self.num_envs, dtype=bool)
        for i in np.flatnonzero(dones):  # only at episode ends
            self.terminal_obs.append(infos[i]["terminal_observation"])
            terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        self.obs.append(self._last_obs)
        self.acts.append(self._actions)
        self.terminated.append(terminated)
        self.dones.append(np.asarray(dones, dtype=bool).copy())
        self._last_obs = obs
        return obs, np.zeros_like(rewards), dones, infos

    def collect(self) -> dict:
        """The recorded rollout, then clear.

        ``obs``, ``acts``, ``terminated``, ``dones`` have leading dims ``(n_steps, n_envs)``;
        ``last_obs`` is the observation after the last step (``n_envs`` rows) and
        ``terminal_obs`` the terminal observations of the episodes that ended, in
        (step, env) order.
        """
        first = self._last_obs
        terminal = self.terminal_obs
        out = {
            "obs": _stack(self.obs),
            "acts": np.stack(self.acts),
            "terminated": np.stack(self.terminated),
            "dones": np.stack(self.dones),
            "last_obs": first,
            "terminal_obs": _stack(terminal) if terminal else _empty_like(first),
        }
        self.clear()
        return out


def policy_obs_normalizer(venv: VecEnv, mean, var) -> VecNormalize:
    """SB3's VecNormalize, frozen at the given (demo) statistics: observations only, no reward scaling.

    The policy then sees the same scaling whatever it visits; running statistics would
    drift with the policy (and blow up on envs whose failed states run off unbounded).
    """
    norm = VecNormalize(venv, training=False, norm_obs=True, norm_reward=False, clip_obs=10.0)
    norm.obs_rms.mean, norm.obs_rms.var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    return norm


def _find_wrapper(venv: VecEnv, cls: type) -> VecEnv | None:
    while isinstance(venv, VecEnvWrapper):
        if isinstance(venv, cls):
            return venv
        venv = venv.venv
    return None


def _stack(rows: list):
    if rows and isinstance(rows[0], dict):
        return {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    return np.stack(rows)


def _empty_like(obs):
    if isinstance(obs, dict):
        return {k: v[:0] for k, v in obs.items()}
    return obs[:0]


class ReturnScaler:
    """Divide rewards by a running std of the discounted return (as SB3's VecNormalize does).

    VecNormalize itself cannot do it here: it scales the env's reward inside ``step``,
    while GAIL's rewards exist only once the whole rollout has been scored.

    GAIL rewards (and absorbing-tail values) can be large; unscaled, the value loss then
    dominates PPO's joint gradient clipping and starves the policy of updates.
    """

    def __init__(self, n_envs: int, gamma: float, dist: DistContext | None = None) -> None:
        self.gamma, self.dist = gamma, dist
        self.rms = RunningMeanStd(shape=())
        self.running_return = np.zeros(n_envs)

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Scale ``(n_steps, n_envs)`` rewards; ``dones`` marks the last step of each episode."""
        returns = np.empty_like(rewards, dtype=np.float64)
        for t in range(len(rewards)):  # one vector op per step, over all envs
            self.running_return = self.running_return * self.gamma + rewards[t]
            returns[t] = self.running_return
            self.running_return[dones[t]] = 0.0
        flat = returns.reshape(-1)
        if self.dist is None:
            self.rms.update(flat)
        else:  # the statistics of all ranks' returns, the same on every rank
            self.rms.update_from_moments(*combine_moments(flat.mean(), flat.var(), flat.size, self.dist))
        return rewards / np.sqrt(self.rms.var + 1e-8)

    def state_dict(self) -> dict:
        return {"mean": self.rms.mean, "var": self.rms.var, "count": self.rms.count, "ret": self.running_return}

    def load_state_dict(self, state: dict) -> None:
        self.rms.mean, self.rms.var, self.rms.count = state["mean"], state["var"], state["count"]
        ret = np.asarray(state["ret"])
        # a run resumed on another number of ranks has another number of envs here: their
        # episodes start afresh on resume anyway, so their running returns start at 0
        self.running_return = ret if ret.shape == self.running_return.shape else np.zeros_like(self.running_return)
