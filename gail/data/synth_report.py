"""``genplay synth report``: does the realism score rank, on episodes it never trained on?

Fresh reference episodes are rolled out on seeds apart from the scorer's training data
(:mod:`genplay.gail.evaluation.realism`): the expert's (genplay's scripted expert or the cached PPO
one), uniform-random play, and an epsilon-noisy expert, a kind of negative the scorer never
saw. All are scored by the run's realism scorer, as are the synthetic episodes.

The check is the per-episode AUC of held-out expert vs held-out random episodes: below
:data:`WARN_AUC` the score is flat or inverted, and the report says so loudly (a
``warning`` field, and the CLI prints a ``WARNING:`` line). The AUC against the noisy
expert shows whether the score ranks degraded expert play, not only random play. GAIL's
own discriminator's AUCs are reported beside it as the reference the scorer replaces.
``scores.png`` shows the score distributions, ``returns.png`` the synthetic episodes' true
returns beside the expert's and random's; ``report.json`` holds the numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from genplay.errors import GenplayError
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos
from genplay.gail.data.synth import Generator, episode_scores, score_transitions
from genplay.gail.evaluation.realism import noisy_policy
from genplay.gail.evaluation.scores import auc

WARN_AUC = 0.6
"""Below this expert-vs-random AUC on held-out episodes the score does not rank (flat or inverted)."""
NOISY_EPSILON = 0.3
"""The unseen negative: the expert with this share of its actions replaced by uniformly random legal ones."""
REFERENCE_SEED = 60_000
"""Expert episodes on seeds from here, random from +10,000, noisy expert from +15,000 (none trained on)."""


def reference_sets(
    gen: Generator, episodes: int, *, seed: int = REFERENCE_SEED, expert: Any = None
) -> dict[str, Demos]:
    """Expert, random and epsilon-noisy expert episodes on the generator's env (held-out seeds).

    ``expert``: the expert policy (default: :func:`genplay.gail.runs.pipeline.default_expert`'s).
    """
    from genplay.envs.boardgames import game_of

    game = game_of(gen.env.env_id)
    if expert is None and game is not None:
        return board_reference_sets(game, gen, episodes, seed=seed)
    kind = "given"
    if expert is None:
        from genplay.gail.runs.pipeline import default_expert

        expert, kind = default_expert(gen.env.env_id)
    noisy = noisy_policy(expert, gen.model.action_space, NOISY_EPSILON, seed=seed)
    return {
        "expert": collect_demos(gen.env, expert, episodes, seed=seed, metadata={"policy": kind}),
        "random": collect_demos(gen.env, "random", episodes, seed=seed + 10_000, metadata={"policy": "random"}),
        "noisy_expert": collect_demos(gen.env, noisy, episodes, seed=seed + 15_000, metadata={"policy": "noisy"}),
    }


WEAK_BOT = "mcts:4"
"""Board games' unseen negative: a weak search bot (plausible moves, worse play; bots read the game
state, so the expert cannot be made epsilon-noisy through observations)."""


def board_reference_sets(game: str, gen: Generator, episodes: int, *, seed: int = REFERENCE_SEED) -> dict[str, Demos]:
    """The game's expert bot, uniform-random play and a weak bot, all against the generator's opponent,
    on seeds the realism scorer never trained on."""
    from genplay.gail.suites.boardgame_presets import board_preset
    from genplay.gail.suites.boardgames import collect_bot_demos

    opponent = gen.env.kwargs.get("opponent", "random")
    expert = board_preset(gen.env.env_id).expert
    return {
        "expert": collect_bot_demos(game, expert, episodes, opponent=opponent, seed=seed),
        "random": collect_demos(gen.env, "random", episodes, seed=seed + 10_000, metadata={"policy": "random"}),
        "weak_bot": collect_bot_demos(game, WEAK_BOT, episodes, opponent=opponent, seed=seed + 15_000),
    }


def separation(score: Callable[[Demos], np.ndarray], sets: dict[str, Demos]) -> dict[str, Any]:
    """Per-transition and per-episode scores of each set, and the per-episode AUCs of ``expert`` vs each other set."""
    scores = {name: score(d) for name, d in sets.items()}
    per_episode = {name: episode_scores(sets[name], s) for name, s in scores.items()}
    out: dict[str, Any] = {"transition_scores": scores, "episode_scores": per_episode}
    for other in sets:
        if other != "expert":
            out[f"auc_expert_vs_{other}"] = round(auc(per_episode["expert"], per_episode[other]), 4)
            out[f"auc_expert_vs_{other}_transitions"] = round(auc(scores["expert"], scores[other]), 4)
    return out


def check_warning(auc_value: float) -> str | None:
    """The loud line for a check AUC below :data:`WARN_AUC` (or undefined), else None."""
    if auc_value >= WARN_AUC:
        return None
    kind = "inverted" if auc_value < 0.4 else "flat"
    return (
        f"the realism score does not rank: expert-vs-random AUC {auc_value:.3f} on held-out episodes is below "
        f"{WARN_AUC} ({kind}); do not filter or rank by it (retrain: genplay synth scorer --run RUN --force)"
    )


def evaluate_scorer(gen: Generator, sets: dict[str, Demos]) -> dict[str, Any]:
    """The realism scorer's separation of ``sets``, its check and warning, and GAIL's discriminator's AUCs."""
    if gen.scorer is None:
        raise GenplayError(
            f"--run: {gen.provenance.get('path')} has no realism scorer (realism.pt); "
            "train one first: genplay synth scorer --run RUN"
        )
    sep = separation(gen.scorer.transition_scores, sets)
    check = sep["auc_expert_vs_random"]
    result: dict[str, Any] = {
        "check": {
            "auc_expert_vs_random": check,
            "episodes": {k: d.n_episodes for k, d in sets.items()},
            "held_out": "reference episodes on seeds the scorer never trained on (gail/evaluation/realism.py)",
            "warn_below": WARN_AUC,
        },
        "warning": check_warning(check),
        **{k: v for k, v in sep.items() if k.startswith("auc")},
        "scorer_validation": gen.scorer.validation,
    }
    if gen.disc is not None:
        ref = separation(lambda d: score_transitions(gen.disc, d), sets)
        result["gail_discriminator"] = {k: v for k, v in ref.items() if k.startswith("auc")}
    return {**result, "_sep": sep}


def write_report(
    gen: Generator, synthetic: Demos, out: str | Path, *, episodes: int = 20, expert: Any = None
) -> dict[str, Any]:
    """Plots and ``report.json`` in ``out``; returns the JSON summary (see module doc)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    sets = {**reference_sets(gen, episodes, expert=expert), "generator": synthetic}
    evaluated = evaluate_scorer(gen, sets)
    sep = evaluated.pop("_sep")
    out.mkdir(parents=True, exist_ok=True)
    unseen = "noisy_expert" if "noisy_expert" in sets else "weak_bot"  # board games: a weak bot
    colors = {"expert": "tab:green", "generator": "tab:blue", "random": "tab:red", unseen: "tab:orange"}

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    bins = np.linspace(0.0, 1.0, 41)
    for name in colors:
        axes[0].hist(sep["transition_scores"][name], bins=bins, alpha=0.5, density=True, label=name, color=colors[name])
        axes[1].hist(sep["episode_scores"][name], bins=bins, alpha=0.5, label=name, color=colors[name])
    axes[0].set(xlabel="realism score per transition", ylabel="density", title="transition scores")
    axes[1].set(xlabel="mean realism score per episode", ylabel="episodes", title="episode scores")
    for ax in axes:
        ax.legend(fontsize="small")
    fig.suptitle(f"{gen.env.env_id}: held-out AUC expert vs random {sep['auc_expert_vs_random']:.3f}, "
                 f"vs {unseen.replace('_', ' ')} {sep[f'auc_expert_vs_{unseen}']:.3f}, "
                 f"vs generator {sep['auc_expert_vs_generator']:.3f}", fontsize="medium")  # fmt: skip
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)

    returns = {name: d.episode_returns() for name, d in sets.items()}
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(returns["generator"], bins=30, color=colors["generator"], label=f"synthetic ({synthetic.n_episodes} ep.)")
    for name in ("expert", "random", unseen):
        ax.axvline(returns[name].mean(), color=colors[name], ls="--", label=f"{name} mean")
    ax.set(xlabel="true episode return", ylabel="episodes", title=f"{gen.env.env_id}: returns of the synthetic data")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out / "returns.png", dpi=100)
    plt.close(fig)

    result = {
        "env": gen.env.env_id,
        "score": "realism scorer (realism.pt, gail/evaluation/realism.py)",
        **evaluated,
        **{f"return_mean_{k}": round(float(v.mean()), 3) for k, v in returns.items()},
        **{f"score_mean_{k}": round(float(v.mean()), 4) for k, v in sep["episode_scores"].items()},
        "plots": [str(out / "scores.png"), str(out / "returns.png")],
    }
    (out / "report.json").write_text(json.dumps(result, indent=2))
    return result
