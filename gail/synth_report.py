"""``genplay synth report``: how well the generator's discriminator tells sources apart, and the data's returns.

Expert episodes (genplay's scripted expert or the cached PPO one) and uniform-random
episodes are rolled out and scored by the same discriminator as the synthetic episodes.
``scores.png`` shows the three score distributions (per transition and per episode),
``returns.png`` the synthetic episodes' true returns beside the expert's and random's;
``report.json`` holds the AUCs of the per-episode scores (expert vs random, expert vs
generator) and the return summaries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from genplay.gail.collect import collect_demos
from genplay.gail.demos import Demos
from genplay.gail.synth import Generator, auc, episode_scores, score_transitions


def reference_sets(gen: Generator, episodes: int, *, seed: int = 60_000) -> dict[str, Demos]:
    """Expert and random episodes on the generator's env (seeds apart from synthesis defaults)."""
    from genplay.gail.pipeline import default_expert

    expert, kind = default_expert(gen.env.env_id)
    return {
        "expert": collect_demos(gen.env, expert, episodes, seed=seed, metadata={"policy": kind}),
        "random": collect_demos(gen.env, "random", episodes, seed=seed + 10_000, metadata={"policy": "random"}),
    }


def separation(gen: Generator, sets: dict[str, Demos]) -> dict[str, Any]:
    """Per-transition and per-episode scores of each set, and the per-episode AUCs against ``expert``."""
    scores = {name: score_transitions(gen.disc, d) for name, d in sets.items()}
    per_episode = {name: episode_scores(sets[name], s) for name, s in scores.items()}
    out: dict[str, Any] = {"transition_scores": scores, "episode_scores": per_episode}
    for other in sets:
        if other != "expert":
            out[f"auc_expert_vs_{other}"] = round(auc(per_episode["expert"], per_episode[other]), 4)
            out[f"auc_expert_vs_{other}_transitions"] = round(auc(scores["expert"], scores[other]), 4)
    return out


def write_report(gen: Generator, synthetic: Demos, out: str | Path, *, episodes: int = 20) -> dict[str, Any]:
    """Plots and ``report.json`` in ``out``; returns the JSON summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sets = {**reference_sets(gen, episodes), "generator": synthetic}
    sep = separation(gen, sets)
    colors = {"expert": "tab:green", "generator": "tab:blue", "random": "tab:red"}

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    every = np.concatenate(list(sep["transition_scores"].values()))
    bins = np.linspace(float(every.min()), float(every.max()) + 1e-6, 41)  # trained D sits near 0.5: zoom in
    for name in ("expert", "generator", "random"):
        axes[0].hist(sep["transition_scores"][name], bins=bins, alpha=0.5, density=True, label=name, color=colors[name])
        axes[1].hist(sep["episode_scores"][name], bins=bins, alpha=0.5, label=name, color=colors[name])
    axes[0].set(xlabel="D(s, a) per transition", ylabel="density", title="transition scores")
    axes[1].set(xlabel="mean D(s, a) per episode", ylabel="episodes", title="episode scores")
    for ax in axes:
        ax.legend(fontsize="small")
    fig.suptitle(f"{gen.env.env_id}: realism scores (AUC expert vs random {sep['auc_expert_vs_random']:.3f}, "
                 f"vs generator {sep['auc_expert_vs_generator']:.3f})", fontsize="medium")  # fmt: skip
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)

    returns = {name: d.episode_returns() for name, d in sets.items()}
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(returns["generator"], bins=30, color=colors["generator"], label=f"synthetic ({synthetic.n_episodes} ep.)")
    for name in ("expert", "random"):
        ax.axvline(returns[name].mean(), color=colors[name], ls="--", label=f"{name} mean")
    ax.set(xlabel="true episode return", ylabel="episodes", title=f"{gen.env.env_id}: returns of the synthetic data")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out / "returns.png", dpi=100)
    plt.close(fig)

    result = {
        "env": gen.env.env_id,
        **{k: v for k, v in sep.items() if k.startswith("auc")},
        **{f"return_mean_{k}": round(float(v.mean()), 3) for k, v in returns.items()},
        **{f"score_mean_{k}": round(float(v.mean()), 4) for k, v in sep["episode_scores"].items()},
        "plots": [str(out / "scores.png"), str(out / "returns.png")],
    }
    (out / "report.json").write_text(json.dumps(result, indent=2))
    return result
