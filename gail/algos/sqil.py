"""SQIL (Reddy, Dragan & Levine 2019, "SQIL: Imitation Learning via Reinforcement Learning with Sparse Rewards").

Soft Q-learning where the reward is a constant: 1 on every demo transition, 0 on every
transition the learner collected, with each minibatch drawn half from the demos and half
from the replay buffer. The squared soft Bellman error on both halves makes the learner
return to demonstrated states and take demonstrated actions there; as the buffer fills
with the learner's own (zero-reward) rows, the expert's reward keeps its pull.

Targets, read from :meth:`SQIL.targets`:
- discrete (the soft-Q DQN of ``gail/learners/off_policy.py``):
  y = r + gamma * (1 - terminated) * V_target(s'), V = alpha * logsumexp(Q / alpha);
- continuous (SAC): y = r + gamma * (1 - terminated) * (min_i Q_target_i(s', a') - alpha log pi(a'|s')),
  a' ~ pi(.|s'), SAC's actor and temperature unchanged.

Terminations (``absorbing``, on by default): a termination moves to an absorbing state that
loops on itself, so ``terminated`` rows add gamma * r_abs / (1 - gamma). SQIL's balanced
batches give a state the reward "how often is it an expert row", and the absorbing state is
one too: r_abs = p_E / (p_E + p_L), with p_E and p_L the share of expert and of learner
transitions that terminate. CartPole's demos never terminate, so falling (the learner's only
termination) is worth 0; MountainCar's and Acrobot's always do (reaching the goal), so the
goal is worth a lasting reward and the learner is not taught to dither below it. With
``absorbing`` off a termination ends the return at r (the paper's plain soft-Q target).
Truncated rows are always bootstrapped from their real final observation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory
from genplay.gail.data.demos import Demos
from genplay.gail.learners.off_policy import Batch, OffPolicyConfig, OffPolicyImitation


@dataclass(frozen=True)
class SQILConfig(OffPolicyConfig):
    """SQIL's settings: the off-policy learner's (``OffPolicyConfig``) plus the absorbing state."""

    absorbing: bool = True
    """Terminations lead to an absorbing state whose reward is the share of terminal rows that are expert rows."""


class SQIL(OffPolicyImitation):
    """SQIL, SB3-style: ``SQIL(venv=..., demos=..., config=SQILConfig()).learn(n)``; discrete actions
    train a soft-Q DQN, continuous ones SAC."""

    title, log_key, config_class = "SQIL", "sqil", SQILConfig
    config: SQILConfig

    def absorbing_reward(self) -> float:
        """r_abs = p_E / (p_E + p_L): the absorbing state's share of expert rows (module docstring)."""
        if not self.config.absorbing:
            return 0.0
        p_expert = float(self.expert_terminal.mean())
        rb = self.algo.replay_buffer  # a CountingReplayBuffer: its terminations are counted as rows are written
        rows = rb.n_rows() * rb.n_envs
        p_learner = rb.n_terminated() / rows if rows else 0.0
        return p_expert / (p_expert + p_learner) if p_expert > 0 else 0.0

    @torch.no_grad()
    def targets(self, batch: Batch) -> torch.Tensor:
        """Soft Bellman targets with SQIL's rewards (1 demo rows, 0 learner rows) and the absorbing tail."""
        gamma = self.config.gamma
        rewards = batch.expert.float()
        if self.discrete:
            next_v = self.soft_value(self.q_values(batch.next_obs, target=True))
        else:
            next_v = self.sac_value(batch.next_obs, target=True)
        tail = gamma * self.absorbing_reward() / (1.0 - gamma)
        return rewards + (1.0 - batch.terminated) * gamma * next_v + batch.terminated * tail

    def critic_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Squared soft Bellman error on the demo and learner rows (SAC: summed over its critics, halved)."""
        y = self.targets(batch)
        if self.discrete:
            q = self.q_values(batch.obs).gather(1, batch.acts[:, None]).squeeze(1)
            loss, q_mean = F.mse_loss(q, y), q.detach()
        else:
            qs = self.sac_q(batch.obs, batch.acts)
            loss = 0.5 * sum(F.mse_loss(q, y) for q in qs)
            q_mean = qs[0].detach()
        if not self.want_stats:  # figures only where a history row is due (see OffPolicyImitation.update)
            return loss, {}
        e = batch.expert
        stats = {
            "td_loss": float(loss.detach()),
            "q_expert": float(q_mean[e].mean()),
            "q_learner": float(q_mean[~e].mean()) if bool((~e).any()) else float("nan"),
            "absorbing_reward": self.absorbing_reward(),
        }
        return loss, stats


def train_sqil(
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: SQILConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> SQIL:
    """Train SQIL on ``env`` from ``demos`` (the registry's ``TrainFn``; run directory with ``out_dir``)."""
    from genplay.gail.runs.off_policy_run import train_off_policy

    return train_off_policy(  # type: ignore[return-value]
        SQIL,
        env,
        demos,
        total_timesteps,
        config=config,
        out_dir=out_dir,
        resume=resume,
        force=force,
        progress_bar=progress_bar,
        callback=callback,
    )
