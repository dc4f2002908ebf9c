"""Gumbel-softmax generator step (Jang et al. 2017; as RelGAN, Nie et al. 2019, uses it for text).

Instead of REINFORCE on a sampled sequence, the generator emits at every step the relaxed
one-hot ``softmax((logits + g) / tau)`` (g ~ Gumbel) of the token it samples (the argmax of
``logits + g``, fed back as the next input), and the discriminator reads those soft one-hots
through its embedding matrix. The discriminator's logit is then differentiable in the
generator's parameters: one backward pass, no Monte Carlo rollouts, a low-variance gradient.
The generator loss is the core's (``GENERATOR_LOSSES``, non-saturating for BCE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genplay.generative.text.models import State, TokenLM


def gumbel_sequences(
    model: TokenLM, n: int, length: int, *, tau: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, length)`` sampled tokens and their ``(n, length, V)`` relaxed one-hots (differentiable)."""
    device = next(model.parameters()).device
    token = torch.full((n,), model.start_token, dtype=torch.long, device=device)
    state: State | None = None
    tokens, soft = [], []
    for _ in range(length):
        logits, state = model.step(token, state)
        u = torch.rand(logits.shape, device=device, generator=generator).clamp_(1e-10, 1.0 - 1e-7)
        y = logits - torch.log(-torch.log(u))  # logits + Gumbel noise: its argmax is an exact sample
        token = y.argmax(dim=-1)
        tokens.append(token)
        soft.append(F.softmax(y / tau, dim=-1))
    return torch.stack(tokens, 1), torch.stack(soft, 1)
