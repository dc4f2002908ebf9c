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

    def aggregate(self, policy: str) -> dict[str, float]:
        """IQM of the human-normalised scores over all games' episodes, its 95% CI, and the mean and median HNS."""
        hns = {g: human_normalized(g, s.ravel()) for g, s in self.scores[policy].items()}
        if not hns:  # every job of this policy failed
            return dict.fromkeys(("iqm", "iqm_ci_low", "iqm_ci_high", "mean", "median"), float("nan"))
        point, low, high = stratified_bootstrap_ci(hns, reps=self.config.bootstrap_reps, seed=0)
        per_game = [float(np.mean(h)) for h in hns.values()]
        return {"iqm": point, "iqm_ci_low": low, "iqm_ci_high": high, "mean": float(np.mean(per_game)),
                "median": float(np.median(per_game))}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        policies = {}
        for spec in c.policies:
            games = {}
            for g, s in self.scores[spec.name].items():
                games[g] = {
                    "scores": s.tolist(),
                    "mean": float(s.mean()),
                    "std": float(s.std()),
                    "hns": float(np.mean(human_normalized(g, s))),
                    "stalled": self.stalled[spec.name].get(g),
                }
            agg = {k: None if np.isnan(v) else v for k, v in self.aggregate(spec.name).items()}  # JSON has no NaN
            policies[spec.name] = {"kind": spec.kind, "path": spec.path, "games": games, "human_normalized": agg}
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
            f"({c.bootstrap_reps} replicates, episodes resampled within each game)",
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
        aggs = [self.aggregate(n) for n in names]
        lines.append(
            "| **IQM HNS [95% CI]** | | | "
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

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """``results.json``, ``results.md`` and ``scores.png`` in ``out_dir``."""
        from genplay.generative.core import atomic_write

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "results.json", "markdown": out / "results.md", "plot": out / "scores.png"}
        text = json.dumps(self.to_dict(), indent=1)
        atomic_write(paths["json"], lambda tmp: Path(tmp).write_text(text))
        atomic_write(paths["markdown"], lambda tmp: Path(tmp).write_text(self.markdown()))
        self.plot(paths["plot"])
        return paths
