"""The quality-diversity frontier of the oracle task (Caccia et al. 2020, "Language GANs falling short").

A single score hides a trade: lowering the sampling temperature improves NLL_oracle (quality)
and worsens NLL_test (diversity), so a GAN that merely sharpens its generator "beats" MLE at
temperature 1. The fair comparison is curve against curve: every model is swept over
temperatures, and an adversarial model earns its place only where its NLL_oracle is below
tempered MLE's *at the same NLL_test* (:func:`gap_at_matched_nll_test`).

:func:`train_mle` fits the generator with early stopping on held-out oracle sequences (with
1,000 training sequences MLE overfits within a few epochs); :func:`adversarial_from` continues
from that generator with a SeqGAN config, and ``disc_steps=0`` with no pretraining is the
frozen-discriminator ablation (the generator then follows an untrained discriminator's reward).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from genplay.generative.text.models import TokenLM, mean_nll
from genplay.generative.text.oracle import discriminator_accuracies, scores
from genplay.generative.text.seqgan import SeqGAN, TextGANConfig


@dataclass(frozen=True)
class MLEResult:
    """The early-stopped MLE generator and how it was chosen."""

    generator: TokenLM
    epochs: int
    """Epoch of the best validation NLL (the generator returned)."""
    valid_nll: float
    train_seconds: float


def train_mle(
    *,
    train: torch.Tensor,
    valid: torch.Tensor,
    vocab_size: int,
    config: TextGANConfig,
    max_epochs: int,
    patience: int = 3,
    device: str | torch.device = "cpu",
    log: Callable[[dict], None] = lambda row: None,
) -> MLEResult:
    """MLE epochs until the validation NLL has not improved for ``patience`` epochs; returns the best."""
    t0 = time.monotonic()
    gan = SeqGAN(data=train, vocab_size=vocab_size, config=config, device=device)
    best, best_nll, best_epoch = copy.deepcopy(gan.generator.state_dict()), float("inf"), 0
    for epoch in range(1, max_epochs + 1):
        train_nll = gan.mle_epoch()
        valid_nll = mean_nll(gan.generator.eval(), valid)
        log({"phase": "mle", "epoch": epoch, "train_nll": train_nll, "valid_nll": valid_nll})
        if valid_nll < best_nll:
            best, best_nll, best_epoch = copy.deepcopy(gan.generator.state_dict()), valid_nll, epoch
        elif epoch - best_epoch >= patience:
            break
    gan.generator.load_state_dict(best)
    return MLEResult(gan.generator.eval(), best_epoch, best_nll, time.monotonic() - t0)


def adversarial_from(
    mle: TokenLM,
    *,
    train: torch.Tensor,
    vocab_size: int,
    config: TextGANConfig,
    steps: int,
    disc_pretrain_steps: int,
    device: str | torch.device = "cpu",
    log: Callable[[dict], None] = lambda row: None,
) -> SeqGAN:
    """A SeqGAN run of ``steps`` adversarial steps starting from a copy of the MLE generator."""
    gan = SeqGAN(data=train, vocab_size=vocab_size, config=config, generator=copy.deepcopy(mle), device=device)
    gan.pretrain_discriminator(disc_pretrain_steps)
    for step in range(1, steps + 1):
        stats = gan.adversarial_step()
        if step % 25 == 0 or step == steps:
            log({"phase": "adv", "step": step, **stats})
    return gan


def frontier(
    gan: SeqGAN, oracle: TokenLM, test: torch.Tensor, temperatures: tuple[float, ...], n_eval: int
) -> list[dict[str, float]]:
    """``{"temperature", "nll_oracle", "nll_test"}`` of ``gan``'s generator at each temperature."""
    return [{"temperature": t, **scores(gan, oracle, test, n_eval, t)} for t in temperatures]


def held_out_accuracies(gan: SeqGAN, test: torch.Tensor, n_eval: int = 1000) -> dict[str, float]:
    """The run's own discriminator on training data, held-out data and fresh samples (memorisation check)."""
    return discriminator_accuracies(gan.discriminator, gan, test, n_eval=n_eval, generator=gan.rng)


def gap_at_matched_nll_test(reference: list[dict], points: list[dict]) -> list[float | None]:
    """Per point: tempered MLE's NLL_oracle at the point's NLL_test minus the point's (> 0: the point is better).

    The reference curve is its low-temperature branch (temperatures up to the one with the least
    NLL_test, where quality is traded for diversity), linearly interpolated in NLL_test; a point
    outside that branch's NLL_test range gets None (no matched MLE point to compare with).
    """
    ref = sorted(reference, key=lambda p: p["temperature"])
    turn = min(range(len(ref)), key=lambda i: ref[i]["nll_test"])
    branch = sorted(ref[: turn + 1], key=lambda p: p["nll_test"])
    xs = [p["nll_test"] for p in branch]
    ys = [p["nll_oracle"] for p in branch]
    out: list[float | None] = []
    for p in points:
        x = p["nll_test"]
        if not xs[0] <= x <= xs[-1]:
            out.append(None)
            continue
        i = max(j for j in range(len(xs)) if xs[j] <= x)
        if i == len(xs) - 1:
            y = ys[i]
        else:
            w = (x - xs[i]) / (xs[i + 1] - xs[i]) if xs[i + 1] > xs[i] else 0.0
            y = ys[i] + w * (ys[i + 1] - ys[i])
        out.append(y - p["nll_oracle"])
    return out
