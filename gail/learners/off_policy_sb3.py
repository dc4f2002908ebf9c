"""SB3's DQN and SAC with ``train`` handed to the imitation trainer (``off_policy.OffPolicyImitation``).

Everything else stays SB3's: rollouts, the replay buffer, the schedules, the zip format. Two
per-step costs of SB3 are replaced by cheaper equivalents, because SQIL and IQ-Learn take one
update every few env steps and small networks make Python overhead the bottleneck:
- the target update: one ``torch._foreach_lerp_`` over the parameter lists (SB3's ``polyak_update``
  loops over parameters with two ops each; lerp with weight tau is the same Polyak average);
- Boltzmann exploration: a sample of softmax(Q / alpha) by ``torch.multinomial`` (building a
  ``Categorical`` validates its arguments on every call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from stable_baselines3 import DQN, SAC
from stable_baselines3.common.utils import polyak_update

if TYPE_CHECKING:
    from genplay.gail.learners.off_policy import OffPolicyImitation


def lerp_targets(sources: list[torch.Tensor], targets: list[torch.Tensor], tau: float) -> None:
    """Polyak update ``target <- (1 - tau) target + tau source`` of matching tensor lists, in place."""
    with torch.no_grad():
        torch._foreach_lerp_(targets, sources, tau)


class ImitationDQN(DQN):
    """SB3's DQN with ``train`` delegated to the imitation trainer and Boltzmann exploration on request."""

    trainer: OffPolicyImitation

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "trainer", "_target_pairs"]  # the zip holds the Q-network

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self._update_learning_rate(self.policy.optimizer)
        self.trainer.update(gradient_steps)

    def _on_step(self) -> None:
        """SB3's DQN ``_on_step`` (target update every ``target_update_interval`` agent steps, epsilon
        schedule) with the Polyak average as one foreach op."""
        self._n_calls += 1
        if self._n_calls % max(self.target_update_interval // self.n_envs, 1) == 0:
            pairs = getattr(self, "_target_pairs", None)
            if pairs is None:  # tensors are updated in place (loads too), so the lists stay valid
                src, dst = list(self.q_net.parameters()), list(self.q_net_target.parameters())
                pairs = self._target_pairs = ([p.data for p in src], [p.data for p in dst])
            lerp_targets(*pairs, self.tau)
            polyak_update(self.batch_norm_stats, self.batch_norm_stats_target, 1.0)
        self.exploration_rate = self.exploration_schedule(self._current_progress_remaining)
        self.logger.record("rollout/exploration_rate", self.exploration_rate)

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """Greedy when deterministic; else a sample of softmax(Q / alpha) (boltzmann) or SB3's epsilon-greedy."""
        trainer = getattr(self, "trainer", None)
        if deterministic or trainer is None or trainer.learner_config.exploration != "boltzmann":
            return super().predict(observation, state, episode_start, deterministic)
        obs, vectorized = self.policy.obs_to_tensor(observation)
        with torch.no_grad():
            probs = torch.softmax(self.q_net(obs) / trainer.learner_config.temperature, dim=1)
            acts = torch.multinomial(probs, 1).squeeze(1).cpu().numpy()
        return (acts if vectorized else acts[0]), state


class ImitationSAC(SAC):
    """SB3's SAC with ``train`` delegated to the imitation trainer (critic loss replaced, actor as SAC's)."""

    trainer: OffPolicyImitation

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "trainer"]

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        self._update_learning_rate(optimizers + ([self.ent_coef_optimizer] if self.ent_coef_optimizer else []))
        self.trainer.update(gradient_steps)
