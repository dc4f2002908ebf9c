"""Rewards from discriminator logits, for any generator trained by policy gradient.

GAIL's policy and a sequence GAN's token generator (SeqGAN) are both trained on a
reward that is a function of the discriminator's logit ``l`` (expert/real high,
``D = sigmoid(l)``):

==============  ============================  ===========================================
``logit``       ``log D - log(1 - D) = l``    sign-free, so it neither rewards nor
                                              punishes living longer (Fu et al. 2018)
``positive``    ``-log(1 - D) = softplus(l)`` always > 0: a survival bonus on episodes that
                                              can end early (GAIL's original form)
``negative``    ``log D = -softplus(-l)``     always < 0: a bonus for ending early
==============  ============================  ===========================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

REWARD_FORMS = ("logit", "positive", "negative")


def reward_from_logits(logits: torch.Tensor, form: str = "logit") -> torch.Tensor:
    """Map discriminator logits (real high) to generator rewards; see the module docstring."""
    if form == "logit":
        return logits
    if form == "positive":
        return F.softplus(logits)
    if form == "negative":
        return -F.softplus(-logits)
    raise ValueError(f"unknown reward form {form!r}; expected one of {REWARD_FORMS}")
