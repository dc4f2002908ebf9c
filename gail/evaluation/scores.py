"""Atari reference scores, human-normalised scores, and the IQM with stratified-bootstrap CIs.

Why not rliable: rliable 1.2.0 (the reference implementation of Agarwal et al., 2021,
"Deep RL at the Edge of the Statistical Precipice") fails to import beside arch 7.2,
which it uses for its bootstrap. The two pieces genplay needs are small, so they are
written here with numpy, following rliable's definitions:

* IQM: the mean of the middle 50% of the pooled scores (``scipy.stats.trim_mean(x, 0.25)``,
  which rliable calls; ``tests/test_atari_suite.py`` checks the two agree).
* Stratified bootstrap: each replicate resamples, with replacement, the runs *within each
  game* (the strata), pools the resampled games and takes the IQM; the 95% interval is
  the 2.5th and 97.5th percentiles of the replicates (rliable's default "percentile").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from genplay.errors import GenplayError

REFERENCE_SOURCE = (
    "the 57-game random and human scores of Badia et al. (2020), Agent57, appendix; the random scores are "
    "those of Mnih et al. (2015), Nature 518; values as transcribed in DeepMind's dqn_zoo (dqn_zoo/atari_data.py)"
)
"""Where :data:`ATARI_REFERENCE` comes from (also written into the suite's JSON)."""

ATARI_REFERENCE: dict[str, tuple[float, float]] = {
    # game (ALE's snake_case id): (random, human)
    "alien": (227.8, 7127.7),
    "amidar": (5.8, 1719.5),
    "assault": (222.4, 742.0),
    "asterix": (210.0, 8503.3),
    "asteroids": (719.1, 47388.7),
    "atlantis": (12850.0, 29028.1),
    "bank_heist": (14.2, 753.1),
    "battle_zone": (2360.0, 37187.5),
    "beam_rider": (363.9, 16926.5),
    "berzerk": (123.7, 2630.4),
    "bowling": (23.1, 160.7),
    "boxing": (0.1, 12.1),
    "breakout": (1.7, 30.5),
    "centipede": (2090.9, 12017.0),
    "chopper_command": (811.0, 7387.8),
    "crazy_climber": (10780.5, 35829.4),
    "defender": (2874.5, 18688.9),
    "demon_attack": (152.1, 1971.0),
    "double_dunk": (-18.6, -16.4),
    "enduro": (0.0, 860.5),
    "fishing_derby": (-91.7, -38.7),
    "freeway": (0.0, 29.6),
    "frostbite": (65.2, 4334.7),
    "gopher": (257.6, 2412.5),
    "gravitar": (173.0, 3351.4),
    "hero": (1027.0, 30826.4),
    "ice_hockey": (-11.2, 0.9),
    "jamesbond": (29.0, 302.8),
    "kangaroo": (52.0, 3035.0),
    "krull": (1598.0, 2665.5),
    "kung_fu_master": (258.5, 22736.3),
    "montezuma_revenge": (0.0, 4753.3),
    "ms_pacman": (307.3, 6951.6),
    "name_this_game": (2292.3, 8049.0),
    "phoenix": (761.4, 7242.6),
    "pitfall": (-229.4, 6463.7),
    "pong": (-20.7, 14.6),
    "private_eye": (24.9, 69571.3),
    "qbert": (163.9, 13455.0),
    "riverraid": (1338.5, 17118.0),
    "road_runner": (11.5, 7845.0),
    "robotank": (2.2, 11.9),
    "seaquest": (68.4, 42054.7),
    "skiing": (-17098.1, -4336.9),
    "solaris": (1236.3, 12326.7),
    "space_invaders": (148.0, 1668.7),
    "star_gunner": (664.0, 10250.0),
    "surround": (-10.0, 6.5),
    "tennis": (-23.8, -8.3),
    "time_pilot": (3568.0, 5229.2),
    "tutankham": (11.4, 167.6),
    "up_n_down": (533.4, 11693.2),
    "venture": (0.0, 1187.5),
    # Video Pinball's random score is 16256.9 in Mnih et al. (2015) and dqn_zoo; some later
    # tables list 0.0. The published 16256.9 is kept: its span to human is narrow (1411).
    "video_pinball": (16256.9, 17667.9),
    "wizard_of_wor": (563.5, 4756.5),
    "yars_revenge": (3092.9, 54576.9),
    "zaxxon": (32.5, 9173.3),
}


def reference(game: str) -> tuple[float, float]:
    """``(random, human)`` scores of ``game`` (ALE id); a game outside the 57 has none."""
    if game not in ATARI_REFERENCE:
        raise GenplayError(f"no published human/random reference scores for {game!r} (only the Atari-57 games)")
    return ATARI_REFERENCE[game]


def human_normalized(game: str, score: float | np.ndarray) -> float | np.ndarray:
    """(score - random) / (human - random): 0 plays like random, 1 like the human tester."""
    random, human = reference(game)
    out = (np.asarray(score, dtype=np.float64) - random) / (human - random)
    return float(out) if out.ndim == 0 else out


def iqm(scores: Sequence[float] | np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Interquartile mean: the mean after cutting ``floor(n/4)`` scores at each end (as scipy's
    ``trim_mean(x, 0.25)``), robust to outlier runs yet using half the data, unlike the median."""
    x = np.asarray(scores, dtype=np.float64)
    if axis is None:
        x, axis = x.ravel(), 0
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    if n == 0:
        raise ValueError("the IQM of no scores is undefined")
    cut = int(0.25 * n)
    middle = np.sort(x, axis=-1)[..., cut : n - cut]
    out = middle.mean(axis=-1)
    return float(out) if out.ndim == 0 else out


def stratified_bootstrap_ci(
    runs: Mapping[str, Sequence[float] | np.ndarray],
    *,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(IQM, low, high)`` of the runs pooled over games, with a stratified-bootstrap interval.

    ``runs`` maps each game to its runs' (normalised) scores. Each replicate draws, for
    every game separately, as many runs as it has, with replacement; so every replicate
    keeps each game's weight, and the interval reflects run-to-run variation only.
    """
    games = {g: np.asarray(r, dtype=np.float64).ravel() for g, r in runs.items()}
    if not games or any(len(r) == 0 for r in games.values()):
        raise ValueError("every game needs at least one run")
    if reps < 1 or not 0 < confidence < 1:
        raise ValueError(f"need reps >= 1 and 0 < confidence < 1, got {reps}, {confidence}")
    point = iqm(np.concatenate(list(games.values())))
    rng = np.random.default_rng(seed)
    resampled = [r[rng.integers(0, len(r), size=(reps, len(r)))] for r in games.values()]
    replicates = iqm(np.concatenate(resampled, axis=1), axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(point), float(low), float(high)


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of scores separating ``positive`` from ``negative`` (ties count 1/2)."""
    pos, neg = np.asarray(positive, np.float64).ravel(), np.asarray(negative, np.float64).ravel()
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    x = np.concatenate([pos, neg])
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="mergesort")] = np.arange(1, len(x) + 1)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inv, weights=ranks) / counts)[inv]  # ties share their mean rank
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
