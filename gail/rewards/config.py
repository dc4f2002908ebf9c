"""The reward model's settings: the discriminator (its inputs, network, loss and optimiser) and how its
logit becomes the learner's reward (form, clip, absorbing states, scaling).

One frozen dataclass, :class:`RewardModelConfig`, shared by every adversarial algorithm (GAIL, AIRL
with its own fields on top, DAC); each algorithm's config holds it as ``config.reward``. Its fields
are ``gail train`` flags under their own names (``--disc-lr``, ``--reward-form``): the CLI reads the
field docstrings below as their ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass

from genplay.generative.core.networks import ACTIVATIONS
from genplay.settings import MAX_WIDTH, NON_NEGATIVE, POSITIVE, STEP_SIZE, Int, Layers, OneOf, Rule, check_fields

MAX_BATCH = 1 << 20
"""Rows per minibatch at most (every config's batch sizes)."""
ACTIVATION = OneOf(tuple(ACTIVATIONS))
REWARD_FORMS = ("logit", "positive", "negative")
DISC_LOSSES = ("bce", "least_squares", "hinge", "wasserstein")


@dataclass(frozen=True)
class RewardModelConfig:
    """The discriminator and the reward assembled from its logit (GAIL's, AIRL's and DAC's)."""

    reward_form: str = "logit"
    """Reward from the discriminator: logit (log D - log(1-D)), positive (-log(1-D)), negative (log D)."""
    absorbing: bool = True
    """Absorbing states for terminations (DAC), so no survival or termination bias leaks in."""
    reward_clip: float = 10.0
    """Clip per-step rewards to [-reward_clip, reward_clip] (0 disables)."""
    absorbing_lr_scale: float = 50.0
    """Step size of the absorbing state's logit, relative to disc_lr."""
    absorbing_prior: float = 1.0
    """Prior absorbing mass on each side, in terminations: keeps the absorbing reward finite when
    one side never terminates (see gail/rewards/reward.py)."""
    scale_rewards: bool = True
    """Divide rewards by a running std of the discounted return before PPO sees them."""
    use_next_obs: bool = False
    """Feed the next observation to the discriminator as well."""
    disc_use_action: bool = True
    """Feed the action to the discriminator. Off (state-only, best with use_next_obs) when the
    expert's action frequencies alone give it away (Pong's scripted expert: 91 percent no-op)."""
    disc_hidden: tuple[int, ...] = (64, 64)
    """Hidden layers of the discriminator MLP."""
    disc_activation: str = "tanh"
    """Activation of the discriminator MLP."""
    disc_cnn_features: int = 256
    """Output width of the discriminator's NatureCNN encoder (image observations only)."""
    disc_hide_top_rows: int = 0
    """Rows at the top of each frame the discriminator does not see (Atari score displays; see
    envs.atari.SCORE_ROWS); 0 = it sees whole frames."""
    disc_spectral_norm: bool = False
    """Spectral normalisation on the discriminator's layers."""
    disc_loss: str = "bce"
    """Discriminator loss: bce, least_squares, hinge, wasserstein."""
    disc_penalty: str = "r1"
    """Gradient penalty: none, r1, wgan_gp."""
    disc_penalty_weight: float = 1.0
    """Weight of the gradient penalty (R1 on expert rows keeps the reward smooth and stops overfitting)."""
    disc_lr: float = 1e-3
    """Adam step size of the discriminator."""
    disc_batch_size: int = 512
    """Expert rows (and as many generator rows) per discriminator step."""
    disc_updates: int = 8
    """Discriminator steps per generator rollout."""
    disc_replay_rollouts: int = 4
    """Generator rollouts kept for discriminator replay (1 = only the latest)."""
    obs_norm: str = "demos"
    """Observation scaling of the discriminator: demos (fixed, fitted on the expert's data) or none.
    Running statistics are not offered: they blow up on envs whose failed states drift without
    bound (fixed-horizon CartPole), hiding the expert's region."""

    def __post_init__(self) -> None:
        check_fields(self, REWARD_MODEL_RULES)
        if self.absorbing and self.disc_loss == "wasserstein":
            raise ValueError(
                f"{type(self).__name__}.disc_loss 'wasserstein' cannot train the absorbing state's free logit (its "
                "loss is linear in it, with no optimum); use absorbing=false or another loss"
            )


REWARD_MODEL_RULES: dict[str, Rule] = {
    "reward_form": OneOf(REWARD_FORMS),
    "reward_clip": NON_NEGATIVE,
    "obs_norm": OneOf(("demos", "none")),
    "absorbing_lr_scale": POSITIVE,
    "absorbing_prior": NON_NEGATIVE,
    "disc_hidden": Layers(),
    "disc_activation": ACTIVATION,
    "disc_cnn_features": Int(1, MAX_WIDTH),
    "disc_hide_top_rows": Int(0),
    "disc_loss": OneOf(DISC_LOSSES),
    "disc_penalty": OneOf(("none", "r1", "wgan_gp")),
    "disc_penalty_weight": NON_NEGATIVE,
    "disc_lr": STEP_SIZE,
    "disc_batch_size": Int(1, MAX_BATCH),
    "disc_updates": Int(1, 100_000),
    "disc_replay_rollouts": Int(1, 1_000),
}
"""Field rules of :class:`RewardModelConfig` (``genplay.settings``); unruled fields are type-checked."""
