"""DAgger's settings (:class:`DAggerConfig`, checked where it is built) and its per-env preset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genplay.errors import CheckpointError, GenplayError
from genplay.gail.algos.config import ACTIVATION
from genplay.settings import STEP_SIZE, UNIT, ConfigError, Int, Layers, OneOf, Real, check_fields

SCHEDULES = ("exponential", "indicator")
EXTRACTORS = ("mlp", "board_cnn", "othello_moves", "othello_lookahead")
"""The learner's features extractor: SB3's flatten (an MLP policy), :class:`BoardCNN` over the board planes, the
planes with both sides' legal moves, or those and each legal move's flips and the corners it opens (Othello,
``gail/networks/othello_features.py``) under the MLP."""
DAGGER_RULES = {
    "rounds": Int(0, 10_000),
    "steps_per_round": Int(0, 10_000_000),
    "beta_schedule": OneOf(SCHEDULES),
    "beta0": UNIT,
    "beta_decay": UNIT,
    "bc_epochs": Int(1, 100_000),
    "bc_epoch_rows": Int(1, 10_000_000),
    "bc_patience": Int(1, 100_000),
    "bc_batch_size": Int(1, 65_536),
    "bc_lr": STEP_SIZE,
    "net_arch": Layers(),
    "features_extractor": OneOf(EXTRACTORS),
    "cnn_channels": Int(1, 512),
    "cnn_layers": Int(1, 16),
    "soft_temperature": Real(0.0, 10.0),
    "regret_weight": Real(0.0, 1000.0),
    "activation": ACTIVATION,
    "n_envs": Int(1, 256),
    "seed": Int(0, 2**31 - 1),
    "torch_threads": Int(1, 64),
}
"""Field rules (``genplay.settings``); ``device`` is only type-checked here: a stored run's device is
resolved where the run is loaded."""


@dataclass(frozen=True)
class DAggerConfig:
    """DAgger settings: the expert, the rounds and their beta schedule, the BC fit, the learner."""

    expert: str = "expert"
    """Interactive expert queried on every state the learner visits: expert (the env family's:
    scripted, cached PPO, a board game's preset bot), random, solver, mcts:N, alphabeta:D (board
    games), or a run directory / SB3 policy zip."""
    rounds: int = 10
    """Most DAgger rounds after round 0 (training also stops when total_timesteps env steps are done)."""
    steps_per_round: int = 0
    """Env steps rolled out per round; 0 = total_timesteps split evenly over the rounds."""
    beta_schedule: str = "exponential"
    """How often the expert acts in round i >= 1: exponential (beta0 * beta_decay ** i) or indicator
    (the paper's: the expert only in round 0, the learner alone afterwards)."""
    beta0: float = 1.0
    """Exponential schedule: beta before decay."""
    beta_decay: float = 0.5
    """Exponential schedule: factor per round."""
    bc_epochs: int = 100
    """Most BC epochs per round; early stopping on held-out trajectory segments ends it sooner."""
    bc_epoch_rows: int = 8192
    """Each BC epoch covers at least this many rows (a small data set is passed over repeatedly; the
    epoch and patience counts are multiplied), as in the BC baseline."""
    bc_patience: int = 5
    """Epochs without held-out improvement before a round's BC stops."""
    bc_batch_size: int = 256
    """BC minibatch size."""
    bc_lr: float = 1e-3
    """Adam step size of BC."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layers of the learner's policy net."""
    activation: str = "tanh"
    """Activation of the learner's policy net: tanh, relu, leaky_relu, elu, silu."""
    features_extractor: str = "mlp"
    """Board games: mlp (the planes flattened), board_cnn (same-padded 3x3 convolutions over the planes, BoardCNN,
    under net_arch), othello_moves (Othello: the planes and both sides' legal-move planes, OthelloMoveFeatures,
    under net_arch) or othello_lookahead (those and each move's flips and the corners it opens to the opponent,
    OthelloLookaheadFeatures)."""
    cnn_channels: int = 32
    """board_cnn: channels of each convolution."""
    cnn_layers: int = 3
    """board_cnn: number of 3x3 convolutions."""
    soft_temperature: float = 0.0
    """Board games with an alphabeta:D expert: > 0 makes BC fit the expert's softmax over its root move values at
    this temperature (cross-entropy over the legal moves) instead of its argmax alone; 0 = argmax labels."""
    fixed_holdout: bool = False
    """BC's held-out segments (early stopping) drawn once as each segment enters D, not anew each round: a new
    split holds out rows the warm-started learner already fitted, so late rounds stopped at their first epoch."""
    regret_weight: float = 0.0
    """Board games with an alphabeta:D expert: > 0 adds this weight times the learner's expected regret (each move's
    probability times its root value below the best move's) to BC's loss, so a costly mistake weighs by its cost."""
    symmetric_policy: bool = False
    """Board games: logits averaged over the board's symmetries (SymmetricMaskablePolicy)."""
    normalize_obs: bool = True
    """Scale vector observations by the mean and std of the first data (demos or round 0), fixed."""
    train_opponent: str = ""
    """Board games: the opponent of the rollouts' envs (a bot spec, ``|``-joined for a mix drawn per
    game); empty = the env's own (the demos' opponents). Where the learner should not lose, roll
    out against the opponent it is judged against."""
    n_envs: int = 8
    """Parallel envs of the rollouts (the expert is queried on all of them at once)."""
    seed: int = 0
    """Seed of the learner's init, the envs of each round, the beta draws and BC's minibatches."""
    torch_threads: int = 1
    """torch intra-op threads."""
    device: str = "cpu"
    """torch device of the learner: cpu, auto, cuda:0, ..."""

    def __post_init__(self) -> None:
        check_fields(self, DAGGER_RULES)
        if not self.expert:
            raise ConfigError(f"DAggerConfig.expert: expected a non-empty spec string, got {self.expert!r}")

    def beta(self, round_index: int) -> float:
        """Probability that the expert acts in round ``round_index``; round 0 rolls out only without
        demos, and then the expert alone acts (there is no learner yet)."""
        if round_index == 0:
            return 1.0
        if self.beta_schedule == "indicator":
            return 0.0
        return float(self.beta0 * self.beta_decay**round_index)


def dagger_preset(env_id: str) -> DAggerConfig:
    """DAgger's settings for ``env_id``: board games get the GAIL recipe's learner (wide ReLU MLP,
    tic-tac-toe's and Othello's symmetric policy) and their preset bot as the expert (Othello: ``alphabeta:2``,
    its move values in the loss, each move's lookahead planes in the input); others the defaults."""
    from genplay.gail.suites.boardgame_presets import board_preset

    board = board_preset(env_id)
    if board is None:
        return DAggerConfig()
    base = DAggerConfig(net_arch=(256, 256), activation="relu", symmetric_policy=board.symmetric_policy, bc_patience=20)
    return dataclasses.replace(base, **BOARD_DAGGER.get(board.game, {}))


BOARD_DAGGER: dict[str, dict[str, Any]] = {
    # 50 solver games + 8,000 solver queries: 0 losses in 1,000 games vs random and 1,000 draws vs the
    # solver on seeds 0-2 (GAIL+BC: 0 / 10 / 0 losses after 200k steps).
    "tic_tac_toe": {"rounds": 4},
    # 200 MCTS-200 games + 40,000 MCTS-200 queries against random: seed 0 won 0.986 of 1,000 vs random
    # (rollouts against the demos' random|mcts:50 with 20,000 queries in 4 rounds: 0.966).
    "connect_four": {"rounds": 8, "train_opponent": "random"},
    # othello: 50 MCTS-100 games + 12,000 alphabeta:2 queries against random in 6 rounds, the policy averaged over
    # the board's 4 symmetries, the expected regret under the teacher's root values weighted 30 in BC's loss
    # (AggreVaTe's cost-sensitive form) and OthelloLookaheadFeatures under the MLP (each move's flips and the corners
    # it opens to the opponent): won 0.968 / 0.968 / 0.957 of 1,000 vs random on seeds 0-2 in ~630 s a run
    # (dagger_othello_s9.jsonl). Without the lookahead planes 0.947 / 0.954 / 0.966; argmax labels 0.943 / 0.944 /
    # 0.945; MCTS-100 labels 0.937 / 0.956 / 0.907; GAIL 0.920 / 0.900 / 0.895. The probes that did not help (soft
    # targets, a BoardCNN, legal-move planes alone, 24,000 queries, a wider MLP, a fixed held-out split) are in
    # BENCHMARKS.md with their commands.
    "othello": {
        "rounds": 6,
        "train_opponent": "random",
        "symmetric_policy": True,
        "expert": "alphabeta:2",
        "regret_weight": 30.0,
        "features_extractor": "othello_lookahead",
    },
}
"""DAgger's rounds, rollout opponent and policy per board game (the rest is the GAIL recipe's learner); the
rollout env steps of the measured runs are ``scripts/bench_dagger.py``'s defaults (numbers in BENCHMARKS.md)."""


def stored_config(state: dict, where: str | Path) -> DAggerConfig:
    """The :class:`DAggerConfig` of a checkpoint's state, refused in one line when malformed."""
    raw = state.get("config")
    if not isinstance(raw, dict) or state.get("algo") != "dagger":
        raise CheckpointError(f"{where}: not a DAgger checkpoint (field 'algo' is {state.get('algo')!r})")
    try:
        return DAggerConfig(**{**raw, "net_arch": tuple(raw.get("net_arch", ()))})
    except (TypeError, GenplayError) as exc:
        raise CheckpointError(f"{where}: field 'config' is malformed ({exc})") from None
