"""IQ-Learn (Garg et al. 2021, "IQ-Learn: Inverse soft-Q Learning for Imitation").

Instead of learning a reward and then a policy for it, IQ-Learn learns one soft Q-function
whose softmax policy imitates the expert; the reward it stands for is read off it by the
inverse soft Bellman operator, r(s, a, s') = Q(s, a) - gamma V(s') (V(s') = 0 after a
termination). The paper's objective, maximised over Q, with the chi-squared divergence
phi(x) = x - x^2 / (4 alpha):

    J(Q) = E_expert[phi(Q(s, a) - gamma V(s'))] - (1 - gamma) E_start[V(s0)].

:meth:`IQLearn.critic_loss` minimises -J, written as three terms:
1. the expert term, -E_expert[Q(s, a) - gamma V(s')] (what makes it imitate);
2. the value term: (1 - gamma) E[V(s0)] over the demos' start states (``value_term="v0"``),
   or, by the telescoping identity, E[V(s) - gamma V(s')] over any state distribution:
   expert and learner rows (``"mixed"``, which uses the learner's own states)
   or expert rows only (``"expert"``, the default: the paper's offline and Atari setting);
3. the chi-squared term, (1 / (4 alpha)) E[(Q(s, a) - gamma V(s'))^2], over expert and
   learner rows (``chi2_rows="all"``), expert rows only (``"expert"``), or expert rows with the
   policy's own fresh action a ~ pi(.|s) on the learner rows (``"policy"``: the authors' regularised
   form for continuous control, which keeps Q bounded where the actor actually acts, not only at the
   replayed actions).

V is the soft value: discrete, alpha_T * logsumexp(Q / alpha_T) with the policy's
temperature alpha_T; continuous (SAC), Q(s, a~pi) - alpha_T log pi(a|s), min over its
critics, with SAC's actor step unchanged. V(s') comes from the target network when
``use_target`` (no gradient), else from the online network (gradient through it, as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory
from genplay.gail.data.demos import Demos
from genplay.gail.learners.off_policy import Batch, OffPolicyConfig, OffPolicyImitation
from genplay.gail.learners.off_policy_config import OFF_POLICY_RULES
from genplay.settings import NON_NEGATIVE, POSITIVE, OneOf

VALUE_TERMS = ("mixed", "expert", "v0")
CHI2_ROWS = ("all", "expert", "policy")


@dataclass(frozen=True)
class IQLearnConfig(OffPolicyConfig):
    """IQ-Learn's settings: the off-policy learner's (``OffPolicyConfig``) plus the objective's."""

    learning_rate: float = 3e-4
    """Adam step size (CartPole-v1 seed 0, 15k steps: 500 at 3e-4 with value_term expert; 1e-3 was unstable)."""
    value_term: str = "expert"
    """Value term of the loss: expert (V(s) - gamma V(s') on expert rows; the paper's Atari setting),
    mixed (expert + learner rows) or v0."""
    chi2_alpha: float = 0.5
    """alpha of the chi-squared divergence: the regulariser is (1 / (4 alpha)) E[(Q - gamma V')^2]."""
    chi2_rows: str = "all"
    """Rows the chi-squared term averages over: all (expert + learner), expert, or policy (expert rows
    and the learner rows' states with a fresh action a ~ pi)."""
    use_target: bool = False
    """V(s') from the target network (no gradient); false (default): from the online network, as in the paper."""
    actor_learning_rate: float = 0.0
    """SAC only: the actor's Adam step size (0: learning_rate). The authors' continuous runs move the
    actor 10x slower than the critic, so the policy follows a Q that has settled."""


IQLearnConfig.RULES = {
    **OFF_POLICY_RULES,
    "value_term": OneOf(VALUE_TERMS),
    "chi2_rows": OneOf(CHI2_ROWS),
    "chi2_alpha": POSITIVE,
    "actor_learning_rate": NON_NEGATIVE,
}


class IQLearn(OffPolicyImitation):
    """IQ-Learn, SB3-style: ``IQLearn(venv=..., demos=..., config=IQLearnConfig()).learn(n)``; discrete
    actions train a soft-Q DQN, continuous ones SAC's critics. :meth:`reward` is the reward it implies."""

    title, log_key, config_class = "IQ-Learn", "iq", IQLearnConfig
    config: IQLearnConfig

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.starts = np.cumsum(self.demos.episode_lengths) - self.demos.episode_lengths  # demo rows of s0

    def _values(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        if self.discrete:
            return self.soft_value(self.q_values(obs, target=target))
        return self.sac_value(obs, target=target)

    def next_values(self, batch: Batch, q_next: torch.Tensor | None = None) -> torch.Tensor:
        """gamma * V(s') with V = 0 after a termination (the target network's when ``use_target``;
        ``q_next``: the online network's Q(s', .) where already computed)."""
        if self.config.use_target:
            with torch.no_grad():
                v = self._values(batch.next_obs, target=True)
        else:
            v = self.soft_value(q_next) if q_next is not None else self._values(batch.next_obs)
        return self.config.gamma * (1.0 - batch.terminated) * v

    def q_taken(self, batch: Batch, q_obs: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Q(s, a) of the batch's actions: one tensor (discrete; ``q_obs``: Q(s, .) where already
        computed) or one per SAC critic."""
        if self.discrete:
            q_obs = self.q_values(batch.obs) if q_obs is None else q_obs
            return (q_obs.gather(1, batch.acts[:, None]).squeeze(1),)
        return self.sac_q(batch.obs, batch.acts)

    def policy_q(self, batch: Batch, q_obs: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Q(s, a) at the learner rows' states with a fresh action a ~ pi(.|s) (the softmax policy, or
        SAC's actor held fixed): one tensor (discrete) or one per SAC critic, each ``(n_learner,)``."""
        obs = batch.obs[~batch.expert]
        if self.discrete:
            q = (self.q_values(batch.obs) if q_obs is None else q_obs)[~batch.expert]
            with torch.no_grad():
                acts = torch.multinomial(torch.softmax(q / self.config.temperature, dim=1), 1)
            return (q.gather(1, acts).squeeze(1),)
        with torch.no_grad():
            acts, _ = self.algo.actor.action_log_prob(obs)
        return self.sac_q(obs, acts)

    def update(self, gradient_steps: int) -> None:
        """SB3's ``train`` hook: the actor's own step size first where one is set (SAC), then the updates."""
        if self.config.actor_learning_rate > 0 and not self.discrete:
            for group in self.algo.actor.optimizer.param_groups:
                group["lr"] = self.config.actor_learning_rate
        super().update(gradient_steps)

    def _online_q(self, batch: Batch) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Discrete: the online Q(s, .) and (unless ``use_target``) Q(s', .) in one forward pass."""
        if not self.discrete:
            return None, None
        if self.config.use_target:
            return self.q_values(batch.obs), None
        both = self.q_values(torch.cat([batch.obs, batch.next_obs]))
        return both[: len(batch.obs)], both[len(batch.obs) :]

    def critic_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """-J(Q): expert term + value term + chi-squared term (module docstring), averaged over SAC's critics."""
        cfg, e = self.config, batch.expert
        q_obs, q_next = self._online_q(batch)
        next_v = self.next_values(batch, q_next)
        if cfg.value_term == "v0":
            obs0 = self.expert.take_obs(self.expert.obs_idx[self.rng.choice(self.starts, size=int(e.sum()))])
            value = (1.0 - cfg.gamma) * self._values(self._tensor(obs0)).mean()
        else:
            rows = e if cfg.value_term == "expert" else torch.ones_like(e)
            v_obs = self.soft_value(q_obs) if q_obs is not None else self._values(batch.obs)
            value = (v_obs - next_v)[rows].mean()
        losses, stats = [], {}
        q_pi = self.policy_q(batch, q_obs) if cfg.chi2_rows == "policy" else None
        for i, q in enumerate(self.q_taken(batch, q_obs)):
            r = q - next_v
            expert_term = -r[e].mean()
            if q_pi is not None:
                chi2_rows = torch.cat([r[e], q_pi[i] - next_v[~e]])
            else:
                chi2_rows = r[e] if cfg.chi2_rows == "expert" else r
            chi2 = chi2_rows.pow(2).mean() / (4.0 * cfg.chi2_alpha)
            losses.append(expert_term + value + chi2)
            if not self.want_stats:  # figures only where a history row is due (see OffPolicyImitation.update)
                continue
            stats = {
                "expert_term": float(expert_term.detach()),
                "value_term": float(value.detach()),
                "chi2_term": float(chi2.detach()),
                "reward_expert": float(r[e].detach().mean()),
                "reward_learner": float(r[~e].detach().mean()) if bool((~e).any()) else float("nan"),
            }
        loss = losses[0] if len(losses) == 1 else torch.stack(losses).mean()
        return loss, ({"iq_loss": float(loss.detach()), **stats} if self.want_stats else {})

    @torch.no_grad()
    def reward(self, obs, acts, next_obs, dones) -> np.ndarray:
        """The learned reward r(s, a, s') = Q(s, a) - gamma V(s') of raw transitions (``dones``: terminations,
        after which V(s') = 0); discrete ``acts`` are indices, continuous ones env actions. Returns ``(B,)``."""
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        acts = np.asarray(acts)
        dtype = self.algo.replay_buffer.observations.dtype
        if self.discrete:
            acts_t = self._tensor(acts.reshape(-1).astype(np.int64))
        else:
            scaled = np.clip(self.algo.policy.scale_action(acts.reshape(len(acts), -1)), -1.0, 1.0)
            acts_t = self._tensor(scaled, torch.float32)
        batch = Batch(
            self._tensor(obs.astype(dtype, copy=False)),
            acts_t,
            self._tensor(next_obs.astype(dtype, copy=False)),
            self._tensor(np.asarray(dones, dtype=np.float32).reshape(-1)),
            self._tensor(np.ones(len(acts), dtype=bool)),
        )
        v_next = self.config.gamma * (1.0 - batch.terminated) * self._values(batch.next_obs)
        q = torch.stack(self.q_taken(batch)).min(dim=0).values
        return (q - v_next).cpu().numpy()


def train_iq(
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: IQLearnConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> IQLearn:
    """Train IQ-Learn on ``env`` from ``demos`` (the registry's ``TrainFn``; run directory with ``out_dir``)."""
    from genplay.gail.runs.off_policy_run import train_off_policy

    return train_off_policy(  # type: ignore[return-value]
        IQLearn,
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
