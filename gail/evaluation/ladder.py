"""Bradley-Terry ratings with bootstrap confidence intervals, on the Elo scale: the ladder's statistics.

The model: entrant ``i`` beats ``j`` with probability ``pi_i / (pi_i + pi_j)``; a draw counts as
half a win to each side (so the data are points, not games). Ratings are the maximum of the
likelihood, found by choix's iterative Luce spectral ranking (``ilsr_pairwise_dense``, Maystre &
Grossglauser 2015) on the matrix of points; choix has no draws and no intervals, which is all
this module adds. An unbeaten entrant has no finite maximum, so each pairing that was played
also gets ``prior_draws`` virtual draws (BayesElo's prior; 0 gives the plain ML estimate, which
then needs every entrant to have scored and conceded points in a connected schedule).

Elo: ``400 * log10(pi)``, the anchor entrant at 0. Intervals: percentile bootstrap over games,
resampled within each (pairing, colour) stratum so every replicate keeps the schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genplay.settings import Int, Real, check_fields

ELO_PER_NAT = 400 / math.log(10)
"""Elo points per natural-log unit of strength (400 Elo: odds of 10 to 1)."""
METHOD = "Bradley-Terry maximum likelihood (choix ILSR), a draw = half a win to each side"


@dataclass(frozen=True)
class FitConfig:
    """How ratings and their intervals are computed."""

    prior_draws: float = 0.1
    """Virtual draws added to each pairing that was played (keeps an unbeaten entrant finite; 0: plain ML).
    0.1 moves ratings 1,500 Elo apart by about 10 (100 games a pairing); 1 by about 90."""
    bootstrap: int = 1000
    """Bootstrap replicates (games resampled within each pairing and colour) for the intervals."""
    level: float = 0.95
    """Coverage of the percentile intervals."""
    seed: int = 0
    """Seed of the bootstrap's generator."""

    def __post_init__(self) -> None:
        check_fields(
            self,
            {"prior_draws": Real(0.0, 1000.0), "bootstrap": Int(0, 100_000), "level": Real(0.5, 0.999),
             "seed": Int(0, 2**32 - 1)},
        )  # fmt: skip


@dataclass(frozen=True)
class Games:
    """Results by stratum: row ``k``, ``wdl[k]``, is (wins, draws, losses) of ``pairs[k, 0]`` v ``pairs[k, 1]``."""

    n_entrants: int
    pairs: np.ndarray
    """(K, 2) entrant indices."""
    wdl: np.ndarray
    """(K, 3) counts from the first entrant's side."""

    def __post_init__(self) -> None:
        pairs, wdl = np.asarray(self.pairs), np.asarray(self.wdl)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or wdl.shape != (len(pairs), 3):
            raise ValueError(f"Games: expected pairs (K, 2) and wdl (K, 3), got {pairs.shape} and {wdl.shape}")
        if len(pairs) and (pairs.min() < 0 or pairs.max() >= self.n_entrants or (pairs[:, 0] == pairs[:, 1]).any()):
            raise ValueError(f"Games: entrant indices must be distinct and in [0, {self.n_entrants})")
        if (wdl < 0).any():
            raise ValueError("Games: counts must be >= 0")

    def points(self, wdl: np.ndarray | None = None) -> np.ndarray:
        """``P[i, j]``: points ``i`` scored against ``j`` (win 1, draw 1/2), over all strata."""
        wdl = self.wdl if wdl is None else wdl
        p = np.zeros((self.n_entrants, self.n_entrants))
        np.add.at(p, (self.pairs[:, 0], self.pairs[:, 1]), wdl[:, 0] + 0.5 * wdl[:, 1])
        np.add.at(p, (self.pairs[:, 1], self.pairs[:, 0]), wdl[:, 2] + 0.5 * wdl[:, 1])
        return p

    def played(self) -> np.ndarray:
        """Boolean (n, n): the pairs that met at least once."""
        met = np.zeros((self.n_entrants, self.n_entrants), dtype=bool)
        has = self.wdl.sum(1) > 0
        met[self.pairs[has, 0], self.pairs[has, 1]] = True
        return met | met.T


def fit_elo(
    points: np.ndarray, played: np.ndarray, *, anchor: int, prior_draws: float = 0.1, start: np.ndarray | None = None
) -> np.ndarray:
    """Elo ratings (``anchor`` at 0) maximising the Bradley-Terry likelihood of ``points`` plus the prior.

    ``start`` (Elo) warm-starts the iterations (the bootstrap starts each replicate at the fit).
    Raises ValueError when the ML estimate does not exist: the graph of "scored against" is not
    strongly connected (with ``prior_draws`` 0, an entrant that never scored or never conceded).
    """
    import choix
    from scipy.sparse.csgraph import connected_components

    comp = points + 0.5 * prior_draws * played
    if connected_components(comp > 0, directed=True, connection="strong")[0] > 1:
        raise ValueError("no finite Bradley-Terry ratings: an entrant never scored or never conceded a point, or "
                         "the schedule is in pieces; add prior draws")  # fmt: skip
    initial = None if start is None else (start - start.mean()) / ELO_PER_NAT
    try:
        theta = choix.ilsr_pairwise_dense(comp, initial_params=initial, max_iter=10_000, tol=1e-10)
    except (RuntimeError, ValueError, np.linalg.LinAlgError) as exc:
        raise ValueError(f"no finite Bradley-Terry ratings for these games ({exc})") from None
    return ELO_PER_NAT * (theta - theta[anchor])


@dataclass(frozen=True)
class Ratings:
    """Ratings, their bootstrap intervals, and each entrant's games and points."""

    elo: np.ndarray
    low: np.ndarray
    high: np.ndarray
    games: np.ndarray
    points: np.ndarray


def rate(games: Games, *, anchor: int, config: FitConfig = FitConfig()) -> Ratings:
    """Fit the ratings, then refit ``config.bootstrap`` resamples of the games for the intervals."""
    played = games.played()
    elo = fit_elo(games.points(), played, anchor=anchor, prior_draws=config.prior_draws)
    low = high = elo
    if config.bootstrap:
        rng = np.random.default_rng(config.seed)
        n = games.wdl.sum(1)
        probs = games.wdl / np.maximum(n, 1)[:, None]
        probs[n == 0] = (0.0, 1.0, 0.0)
        reps = np.empty((config.bootstrap, games.n_entrants))
        for b in range(config.bootstrap):
            wdl = rng.multinomial(n, probs)
            reps[b] = fit_elo(games.points(wdl), played, anchor=anchor, prior_draws=config.prior_draws, start=elo)
        tail = 100 * (1 - config.level) / 2
        low, high = np.percentile(reps, [tail, 100 - tail], axis=0)
    per_row = games.wdl.sum(1)
    n_games = np.zeros(games.n_entrants)
    np.add.at(n_games, games.pairs[:, 0], per_row)
    np.add.at(n_games, games.pairs[:, 1], per_row)
    return Ratings(elo=elo, low=low, high=high, games=n_games, points=games.points().sum(1))


def plot_ladder(names: list[str], ratings: Ratings, path: Path, *, title: str, anchor: str) -> None:
    """A small PNG: one bar per entrant at its rating, with its interval, strongest at the top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(ratings.elo)
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(names) + 1.2))
    y = np.arange(len(names))
    elo = ratings.elo[order]
    err = np.stack([elo - ratings.low[order], ratings.high[order] - elo])
    ax.errorbar(elo, y, xerr=np.maximum(err, 0), fmt="o", color="tab:blue", ecolor="tab:gray", capsize=3)
    ax.set_yticks(y, [names[i] for i in order], fontsize=8)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel(f"Elo (Bradley-Terry, {anchor} = 0), bootstrap 95% CI")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
