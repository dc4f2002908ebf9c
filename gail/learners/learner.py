"""What GAIL (a PPO generator) and the off-policy family (DAC, SQIL, IQ-Learn) share around their SB3 algorithm.

Both trainers wrap one SB3 algorithm and one discriminator; the step count, the discount,
the absorbing-state mass, the centred frame scaling and the logs come from the same place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger

from genplay.gail.algos.config import GAILConfig
from genplay.gail.rewards.features import CenteredNatureCNN, DemoScaling
from genplay.gail.rewards.reward import absorbing_mass
from genplay.generative.core import set_torch_threads


class SB3Learner:
    """Mixin: ``self.config`` (a :class:`GAILConfig`) and ``sb3_algorithm`` are the subclass's."""

    config: GAILConfig

    @property
    def sb3_algorithm(self) -> BaseAlgorithm:
        raise NotImplementedError

    @property
    def run_config(self) -> Any:
        """The run's settings (``seed``, ``torch_threads``, ``checkpoint_every``, ...): ``config.run``
        (a :class:`RunConfig`); the off-policy learners' own config holds them."""
        return self.config.run

    @property
    def num_timesteps(self) -> int:
        return int(self.sb3_algorithm.num_timesteps)

    @property
    def gamma(self) -> float:
        return float(self.sb3_algorithm.gamma)

    def _start_run(self) -> None:
        """At every ``learn``: torch's threads as the config says; at a fresh run's first, torch's RNG
        seeded from the SB3 algorithm's seed. Constructors leave global state alone (they build under
        ``seeded``), so the run, not the construction, seeds what SB3 samples actions with; a resumed
        trainer keeps the RNG state its checkpoint restored."""
        set_torch_threads(self.run_config.torch_threads)
        if self.num_timesteps == 0 and not getattr(self, "_run_started", False):
            seed = self.sb3_algorithm.seed
            torch.manual_seed(self.run_config.seed if seed is None else seed)
        self._run_started = True

    def _absorbing_mass(self, n_terminations: int) -> float:
        if not self.config.reward.absorbing:
            return 0.0
        return absorbing_mass(n_terminations, self.gamma, self.config.reward.absorbing_prior)

    def _centre_frames(self, scaling: DemoScaling) -> None:
        """Give the policy's :class:`CenteredNatureCNN` (if any) the demos' frame statistics."""
        for module in self.sb3_algorithm.policy.modules():
            if isinstance(module, CenteredNatureCNN):
                module.set_scaling(scaling.mean, scaling.std)

    def _log_to(self, log_dir: str | None) -> None:
        """CSV and TensorBoard logs of the SB3 algorithm in ``log_dir`` (None: no files, :func:`quiet_logger`)."""
        if log_dir is None:
            self.sb3_algorithm.set_logger(quiet_logger())
            return
        from stable_baselines3.common.logger import configure

        self.sb3_algorithm.set_logger(configure(log_dir, ["csv", "tensorboard"]))


def quiet_logger() -> Logger:
    """An SB3 logger that records values (callbacks read them) and writes nowhere. SB3's own default for a
    model without ``tensorboard_log`` writes nowhere too, but makes an empty ``/tmp/SB3-<time>`` directory on
    every ``learn`` call (thousands after a test run); setting a logger first skips that."""
    return Logger(folder=None, output_formats=[])


class ProgressBar(BaseCallback):
    """tqdm bar with ETA, true episode return and discriminator accuracy."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, initial=self.model.num_timesteps, unit="step", mininterval=1.0)

    def _on_step(self) -> bool:
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return True

    def _on_rollout_end(self) -> None:
        log = self.model.logger.name_to_value
        self.bar.set_postfix(
            ret=f"{log.get('gail/true_return', float('nan')):.1f}",
            acc_e=f"{log.get('gail/accuracy_expert', float('nan')):.2f}",
            acc_g=f"{log.get('gail/accuracy_generator', float('nan')):.2f}",
            refresh=False,
        )

    def _on_training_end(self) -> None:
        self.bar.close()


class PeriodicCheckpoint(BaseCallback):
    """Saves the trainer every ``run_config.checkpoint_every`` agent steps, between updates (nothing half-done):
    the off-policy learners' and DAC's (GAIL saves between rollouts in its own loop)."""

    def __init__(self, trainer: SB3Learner, path: str | Path | None) -> None:
        super().__init__()
        self.trainer, self.path, self.last = trainer, path, trainer.num_timesteps

    def _on_step(self) -> bool:
        every = self.trainer.run_config.checkpoint_every
        if self.path and every and self.trainer.num_timesteps - self.last >= every:
            self.trainer.save_checkpoint(self.path)
            self.last = self.trainer.num_timesteps
        return True
