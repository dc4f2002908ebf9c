"""DAgger's fit on the teacher's move values: soft targets and the expected regret (:func:`soft_clone`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def soft_clone(
    policy,
    obs: np.ndarray,
    targets: np.ndarray,
    masks: np.ndarray | None,
    lengths: np.ndarray,
    *,
    gaps: np.ndarray | None = None,
    regret_weight: float = 0.0,
    held_segments: np.ndarray | None = None,
    **fit: Any,
) -> dict[str, float]:
    """BC on soft targets: minimise the cross-entropy ``-sum_a p(a|s) log pi(a|s)`` over the legal moves (the
    targets are 0 elsewhere), early-stopped on held-out segments as :func:`bc_pretrain`. Why: a distribution
    says which moves are near-equal, where an argmax label says only which one won, often by a hair.

    ``regret_weight`` > 0 adds that weight times the expected regret ``sum_a pi(a|s) gap(a)`` (``gaps``: each
    move's value below the best, the teacher's root values): AggreVaTe's cost-sensitive loss (Ross & Bagnell
    2014). Why: against random, DAgger's Othello learners lost the games where they gave corners away, a
    mistake cross-entropy counts as one disagreement among many, whatever it costs.

    ``held_segments`` (one bool per segment of ``lengths``) fixes which segments early stopping holds out, in
    place of a split drawn anew each call (:func:`fit_split`)."""
    from genplay.gail.algos.bc import fit_early_stopped, take_rows

    obs_t = policy.obs_to_tensor(obs)[0]
    p_t = torch.as_tensor(targets, dtype=torch.float32, device=policy.device)
    gap_t = None if gaps is None or regret_weight <= 0 else torch.as_tensor(gaps, dtype=torch.float32)

    def cross_entropy(idx: np.ndarray) -> torch.Tensor:
        kwargs = {"action_masks": masks[idx]} if masks is not None else {}
        log_pi = policy.get_distribution(take_rows(obs_t, idx), **kwargs).distribution.logits  # normalised
        loss = -(p_t[idx] * log_pi).sum(-1).mean()
        if gap_t is not None:  # illegal moves have probability 0 (masked) and gap 0
            loss = loss + regret_weight * (log_pi.exp() * gap_t[idx].to(log_pi.device)).sum(-1).mean()
        return loss

    def held(idx: np.ndarray) -> float:
        parts = np.array_split(idx, max(1, len(idx) // 2048))
        return float(np.average([float(cross_entropy(p)) for p in parts], weights=[len(p) for p in parts]))

    if held_segments is not None:
        train_loss, best, epochs = fit_split(policy, cross_entropy, held, lengths, held_segments, **fit)
    else:
        train_loss, best, epochs = fit_early_stopped(
            policy, cross_entropy, held, episode_lengths=lengths, tol=1e-4, **fit
        )
    return {"bc_loss": train_loss, "bc_heldout_loss": best, "bc_epochs": float(epochs)}


def fit_split(
    policy,
    loss,
    held_loss,
    lengths: np.ndarray,
    held_segments: np.ndarray,
    *,
    max_epochs: int,
    patience: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    tol: float = 1e-4,
) -> tuple[float, float, int]:
    """``bc.fit_early_stopped`` on a given split: Adam epochs over the rows of the segments not held out, stopped
    once the held-out rows' loss has not improved by ``tol`` for ``patience`` epochs, the best weights kept.

    Why DAgger needs it: the learner is warm-started each round, and a split drawn anew holds out rows it trained
    on last round; their loss is then lowest at the first epoch, so every late round stopped after ``patience``
    epochs with its first epoch's weights (bc_epochs = patience + 1 in every Othello run)."""
    from genplay.gail.algos.bc import fit_early_stopped

    rows_held = np.repeat(np.asarray(held_segments, dtype=bool), np.asarray(lengths))
    split = (np.flatnonzero(~rows_held), np.flatnonzero(rows_held))
    return fit_early_stopped(policy, loss, held_loss, episode_lengths=lengths, max_epochs=max_epochs, patience=patience,
                             batch_size=batch_size, lr=lr, rng=rng, tol=tol, split=split)  # fmt: skip
