"""Learning-curve plots (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def plot_learning_curve(
    history: Sequence[dict[str, float]],
    path: str | Path,
    *,
    title: str = "GAIL",
    expert_return: float | None = None,
    random_return: float | None = None,
    bc_return: float | None = None,
    eval_curve: Sequence[tuple[int, float]] | None = None,
) -> Path:
    """Plot the true episode return (and discriminator accuracy) against env steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_ret, ax_disc) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, height_ratios=[2, 1])
    steps = [h["timesteps"] for h in history]
    ax_ret.plot(steps, [h.get("true_return", float("nan")) for h in history], label="learner (training episodes)")
    if eval_curve:
        ax_ret.plot(*zip(*eval_curve), "o-", label="learner (evaluation)")
    if expert_return is not None:
        ax_ret.axhline(expert_return, color="green", ls="--", label="expert")
    if random_return is not None:
        ax_ret.axhline(random_return, color="red", ls=":", label="random")
    if bc_return is not None:
        ax_ret.axhline(bc_return, color="purple", ls="-.", label="BC alone")
    ax_ret.set_ylabel("true return")
    ax_ret.set_title(title)
    ax_ret.legend(loc="best", fontsize="small")
    ax_disc.plot(steps, [h.get("accuracy_expert", float("nan")) for h in history], label="accuracy on expert rows")
    ax_disc.plot(
        steps, [h.get("accuracy_generator", float("nan")) for h in history], label="accuracy on generator rows"
    )
    ax_disc.set_ylim(-0.05, 1.05)
    ax_disc.set_xlabel("generator env steps")
    ax_disc.set_ylabel("discriminator")
    ax_disc.legend(loc="best", fontsize="small")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
