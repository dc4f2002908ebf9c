"""The Atari suite's results: raw scores per (policy, game), their summaries, and the files they go to.

A (game, policy, seed) job that failed (a ``--ray`` run, after Ray's retries) leaves its seed
out of that game's scores and is listed under ``failed`` in the JSON and the table; a game with
no seed left shows ``failed`` and drops out of that policy's IQM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genplay.envs.atari import evaluation_options
from genplay.gail.evaluation.scores import ATARI_REFERENCE, REFERENCE_SOURCE, human_normalized, stratified_bootstrap_ci

if TYPE_CHECKING:
    from genplay.gail.suites.atari_suite import SuiteConfig


@dataclass
class SuiteResult:
    """Raw scores per (policy, game): ``(n_seeds, episodes)`` arrays; summaries computed from them."""

    config: SuiteConfig
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    stalled: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: list[dict[str, Any]] = field(default_factory=list)
    """Jobs that failed after their retries (``fanout.failures``): their seeds are missing from ``scores``."""

    def expert_means(self) -> dict[str, float]:
        """Per game, the mean raw score of the suite's ``expert`` policy in this run (empty without one): the 1
        of the expert-normalised scale, as imitation papers report (Ho & Ermon 2016; IQ-Learn)."""
        experts = [p.name for p in self.config.policies if p.kind == "expert"]
        if not experts:
            return {}
        return {g: float(s.mean()) for g, s in self.scores[experts[0]].items()}

    def normalized(self, policy: str, scale: str = "human") -> dict[str, np.ndarray]:
        """Each game's episode scores of ``policy`` on ``scale``: ``human`` (0 random, 1 the human tester) or
        ``expert`` ((score - random) / (expert - random), games where the expert beat the random reference)."""
        if scale == "human":
            return {g: human_normalized(g, s.ravel()) for g, s in self.scores[policy].items()}
        experts, out = self.expert_means(), {}
        for g, s in self.scores[policy].items():
            random = ATARI_REFERENCE[g][0]
            if g in experts and experts[g] > random:
                out[g] = (s.ravel().astype(np.float64) - random) / (experts[g] - random)
        return out

    def aggregate(self, policy: str, scale: str = "human") -> dict[str, float]:
        """IQM of the normalised scores (:meth:`normalized`) over all games' episodes, its 95% CI, and the
        mean and median of the per-game means."""
        hns = self.normalized(policy, scale)
        if not hns:  # every job of this policy failed, or no game has an expert score above random
            return dict.fromkeys(("iqm", "iqm_ci_low", "iqm_ci_high", "mean", "median"), float("nan"))
        point, low, high = stratified_bootstrap_ci(hns, reps=self.config.bootstrap_reps, seed=0)
        per_game = [float(np.mean(h)) for h in hns.values()]
        return {"iqm": point, "iqm_ci_low": low, "iqm_ci_high": high, "mean": float(np.mean(per_game)),
                "median": float(np.median(per_game))}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        policies, experts = {}, self.expert_means()
        for spec in c.policies:
            games = {}
            ens = self.normalized(spec.name, "expert")
            for g, s in self.scores[spec.name].items():
                games[g] = {
                    "scores": s.tolist(),
                    "mean": float(s.mean()),
                    "std": float(s.std()),
                    "hns": float(np.mean(human_normalized(g, s))),
                    "ens": float(np.mean(ens[g])) if g in ens else None,
                    "stalled": self.stalled[spec.name].get(g),
                }
            policies[spec.name] = {"kind": spec.kind, "path": spec.path, "games": games}
            for scale in ("human", "expert") if experts else ("human",):
                agg = self.aggregate(spec.name, scale)
                policies[spec.name][f"{scale}_normalized"] = {k: None if np.isnan(v) else v for k, v in agg.items()}
        return {
            "suite": "atari",
            "games": list(c.games),
            "seeds": list(c.seeds),
            "episodes": c.episodes,
            "max_steps": c.max_steps,
            "deterministic": c.deterministic,
            "env": evaluation_options(c.games[0]) | {"max_episode_frames": 108_000},
            "reference": {
                "source": REFERENCE_SOURCE,
                **{g: {"random": ATARI_REFERENCE[g][0], "human": ATARI_REFERENCE[g][1]} for g in c.games},
            },
            "aggregate": "IQM of human-normalised episode scores pooled over games; 95% CI by stratified bootstrap "
            f"({c.bootstrap_reps} replicates, episodes resampled within each game); with an expert policy in the "
            "suite, the same on the expert-normalised scale: (score - random) / (expert's mean here - random)",
            "expert_means": experts,
            "policies": policies,
            "failed": self.failed,
        }

    def markdown(self) -> str:
        c = self.config
        names = [p.name for p in c.policies]
        seeds = ",".join(map(str, c.seeds))
        lines = [
            f"# Atari suite: {c.episodes} episodes x seeds {seeds} per game and policy",
            "",
            "Raw score mean ± std over episodes (human-normalised score in brackets); full games, sticky actions."
            + (f" **Episodes cut at {c.max_steps} steps (test run, not comparable).**" if c.max_steps else ""),
            "",
            "| game | random (ref) | human (ref) | " + " | ".join(names) + " |",
            "|---|---:|---:|" + "---:|" * len(names),
        ]
        for g in c.games:
            r, h = ATARI_REFERENCE[g]
            cells = []
            for n in names:
                s = self.scores[n].get(g)
                if s is None:
                    cells.append("failed")
                    continue
                cells.append(f"{s.mean():.1f} ± {s.std():.1f} ({np.mean(human_normalized(g, s)):.3f})")
            lines.append(f"| {g} | {r} | {h} | " + " | ".join(cells) + " |")
        for scale, label in (
            (("human", "HNS"), ("expert", "expert-normalised")) if self.expert_means() else (("human", "HNS"),)
        ):
            aggs = [self.aggregate(n, scale) for n in names]
            lines.append(
                f"| **IQM {label} [95% CI]** | | | "
                + " | ".join(f"**{a['iqm']:.3f}** [{a['iqm_ci_low']:.3f}, {a['iqm_ci_high']:.3f}]" for a in aggs)
                + " |"
            )
        if self.failed:
            lines += ["", f"**{len(self.failed)} job(s) failed after their retries; their seeds are left out:**", ""]
            lines += [f"- {f['job']}: {f['error']} ({f['attempts']} attempts)" for f in self.failed]
        lines += ["", f"Reference scores: {REFERENCE_SOURCE}.", ""]
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Per-game human-normalised scores (grouped bars) and each policy's IQM with its 95% CI."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        c, names = self.config, [p.name for p in self.config.policies]
        fig, (ax_g, ax_a) = plt.subplots(1, 2, figsize=(4 + 1.2 * len(c.games) * len(names) / 2, 4),
                                         width_ratios=[max(len(c.games), 1) * 1.5, 1.5])  # fmt: skip
        width = 0.8 / len(names)
        x = np.arange(len(c.games))
        for k, n in enumerate(names):
            hns = [np.mean(human_normalized(g, self.scores[n][g])) if g in self.scores[n] else np.nan for g in c.games]
            ax_g.bar(x + k * width - 0.4 + width / 2, hns, width, label=n)
        ax_g.set_xticks(x, c.games)
        ax_g.axhline(1.0, color="grey", ls="--", lw=0.8)
        ax_g.axhline(0.0, color="grey", lw=0.8)
        ax_g.set_ylabel("human-normalised score")
        ax_g.set_title("per game (mean over episodes)")
        ax_g.legend(fontsize="small")
        aggs = [self.aggregate(n) for n in names]
        iqms = [a["iqm"] for a in aggs]
        err = [[a["iqm"] - a["iqm_ci_low"] for a in aggs], [a["iqm_ci_high"] - a["iqm"] for a in aggs]]
        ax_a.bar(names, iqms, yerr=err, capsize=4, color=[f"C{k}" for k in range(len(names))])
        ax_a.axhline(0.0, color="grey", lw=0.8)
        ax_a.set_title("IQM, 95% CI")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def learning_curves(self) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """Per game, per learned or BC policy whose run directory has a ``history.json``: ``(agent steps, mean
        return of the training episodes)`` as the trainer logged them (JSON, read as data only)."""
        curves: dict[str, dict[str, list[tuple[int, float]]]] = {}
        for spec in self.config.policies:
            if spec.path is None:
                continue
            for g in self.config.games:
                where = spec.path_for(g)
                history = (where if where.is_dir() else where.parent) / "history.json"
                try:
                    rows = json.loads(history.read_text())
                    points = [(int(r["timesteps"]), float(r["true_return"])) for r in rows if "true_return" in r]
                except (OSError, ValueError, TypeError, KeyError):
                    continue  # no history (a bare zip) or not a trainer's: the suite's scores stand alone
                if points:
                    curves.setdefault(g, {})[spec.name] = points
        return curves

    def plot_curves(self, path: str | Path) -> Path | None:
        """One panel per game: each run's training-episode return against agent steps, with the expert's
        mean score in this suite and the random reference as lines; None when no policy has a history."""
        curves = self.learning_curves()
        if not curves:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        games, experts = [g for g in self.config.games if g in curves], self.expert_means()
        fig, axes = plt.subplots(1, len(games), figsize=(4 * len(games), 3.5), squeeze=False)
        for ax, g in zip(axes[0], games):
            for name, points in curves[g].items():
                steps, returns = zip(*points)
                ax.plot(steps, returns, label=name)
            if g in experts:
                ax.axhline(experts[g], color="k", ls="--", lw=0.8, label="expert (this suite)")
            ax.axhline(ATARI_REFERENCE[g][0], color="grey", lw=0.8, label="random (reference)")
            ax.set(title=g, xlabel="agent steps", ylabel="training-episode return")
            ax.legend(fontsize="small")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """``results.json``, ``results.md``, ``scores.png`` and, where runs logged a history, ``curves.png``
        in ``out_dir``."""
        from genplay.generative.core import atomic_write

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "results.json", "markdown": out / "results.md", "plot": out / "scores.png"}
        text = json.dumps(self.to_dict(), indent=1)
        atomic_write(paths["json"], lambda tmp: Path(tmp).write_text(text))
        atomic_write(paths["markdown"], lambda tmp: Path(tmp).write_text(self.markdown()))
        self.plot(paths["plot"])
        curves = self.plot_curves(out / "curves.png")
        if curves is not None:
            paths["curves"] = curves
        return paths
