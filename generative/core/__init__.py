"""The shared adversarial core: networks, losses, penalties, one discriminator step, helpers.

GAIL (``genplay.gail``) and every generative modality build on these pieces instead of
copying them.
"""

from genplay.generative.core.losses import (
    DISCRIMINATOR_LOSSES,
    GENERATOR_LOSSES,
    PENALTIES,
    bce_discriminator_loss,
    discriminator_loss,
    hinge_discriminator_loss,
    least_squares_discriminator_loss,
    r1_penalty,
    wasserstein_discriminator_loss,
    weighted_mean,
    wgan_gp_penalty,
)
from genplay.generative.core.networks import cnn, mlp
from genplay.generative.core.rewards import REWARD_FORMS, reward_from_logits
from genplay.generative.core.step import DiscriminatorStepConfig, discriminator_step
from genplay.generative.core.utils import EMA, atomic_write, seed_everything, seeded, select_device, set_torch_threads

__all__ = [
    "DISCRIMINATOR_LOSSES",
    "EMA",
    "GENERATOR_LOSSES",
    "PENALTIES",
    "REWARD_FORMS",
    "DiscriminatorStepConfig",
    "atomic_write",
    "bce_discriminator_loss",
    "cnn",
    "discriminator_loss",
    "discriminator_step",
    "hinge_discriminator_loss",
    "least_squares_discriminator_loss",
    "mlp",
    "r1_penalty",
    "reward_from_logits",
    "seed_everything",
    "seeded",
    "select_device",
    "set_torch_threads",
    "wasserstein_discriminator_loss",
    "weighted_mean",
    "wgan_gp_penalty",
]
