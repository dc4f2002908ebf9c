"""A realism scorer for synthetic trajectories, trained after GAIL on expert vs off-expert data.

Why not GAIL's own discriminator: at the adversarial equilibrium it scores about 0.5
everywhere by design, and what little it still separates tracks the generator's last
mistakes, not distance from the expert. Measured with it as the score, ``synth report``
gave an expert-vs-random AUC of 0.04 on CartPole (random transitions scored higher than
the expert's) and 0.485 on connect four: a ranking by it can be inverted.

What the scorer is: the GAIL discriminator's network class (:class:`TransitionDiscriminator`,
so its features and every observation space GAIL takes: vectors, board planes with masks,
Dict, uint8 frame stacks), reading ``(obs, action)``, trained by the shared core's
``discriminator_step`` (BCE, logits high for the expert) on

- positives: the expert's demo transitions;
- negatives (shares of every negative batch: 0.2 / 0.4 / 0.4 by default):
  1. the trained generator's rollouts: the data ``synth`` ranks; the scorer learns where
     the generator still departs from the expert, which is what ``--top N`` should cut; a small
     share, since near-expert rows labelled negative also teach spurious differences;
  2. uniform-random-policy rollouts (legal moves when masked): the off-distribution anchor,
     so plainly bad behaviour scores low even where the generator never went;
  3. action-perturbed expert rows (an expert state with another uniformly drawn legal action):
     they make the scorer read the action, not only the state (a state-only scorer
     ranks a good state with a bad move as expert).

Held out, never trained on: 20% of the episodes of every source (their loss picks the
training step, early stopping; their AUCs are stored in the scorer file as ``validation``),
and everything ``synth report`` measures: fresh expert
and random episodes on other seeds (its check, warned about below 0.6) and a kind of
negative the scorer never saw (an epsilon-noisy expert, or a weak search bot on board
games), so a high check means more than "recognises random".

A transition's score is ``sigmoid(logit)``; an episode's the mean over its transitions.
Measured (``scripts/bench_synth.py``): held-out expert-vs-random AUC 1.0 on CartPole, Pendulum and
a CPU-size Pong run; on connect four 0.78 from the generator's 100 demo games alone (the scorer overfits
~1k expert positions within 50 steps; a BoardCNN or mirror images alone did not pass 0.85) and 0.91 (60 reference
games each) with the benchmark's connect-four setup: 10,000 more search-bot games against the synthesis
opponent as positives, 5,000 random games, mirror images (``symmetries``), a 256 x 2 MLP at lr 3e-4.
The scorer is saved with the core's ``state_io`` (JSON + safetensors + sha256, no pickle).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from genplay.errors import CheckpointError, GenplayError
from genplay.gail.data.collect import PolicyFn, as_policy_fn, random_policy
from genplay.gail.data.demos import Demos
from genplay.gail.data.episodes import select_episodes
from genplay.gail.data.spaces import describe_space, space_mismatch
from genplay.gail.data.store import TransitionStore
from genplay.gail.rewards.discriminator import TransitionDiscriminator
from genplay.generative.core import state_io
from genplay.generative.core.step import DiscriminatorStepConfig, discriminator_step
from genplay.settings import MAX_WIDTH, NON_NEGATIVE, Int, Layers, Real, Rule, check_fields

FORMAT = "genplay-realism-scorer"
SCORER_FILE = "realism.pt"
NEGATIVES = ("generator", "random", "perturbed")
SCORE_DEFINITION = (
    "per transition: sigmoid(logit) of the realism scorer (gail/evaluation/realism.py: expert demos vs the generator's "
    "rollouts, uniform-random rollouts and action-perturbed expert rows), the probability that the transition "
    "is the expert's; per episode: the mean over its transitions"
)
GENERATOR_SEED = 1_000_000
"""Seeds of the generator's training rollouts (``synth`` starts at 0, ``synth report`` near 60,000)."""
RANDOM_SEED = 2_000_000
"""Seeds of the uniform-random training rollouts."""


SHARE = Real(0.0, 1.0, high_open=True)
REALISM_RULES: dict[str, Rule] = {"steps": Int(1), "batch_size": Int(1), "cnn_features": Int(1, MAX_WIDTH)}
REALISM_RULES.update(board_channels=Int(0, MAX_WIDTH), lr=Real(0.0, low_open=True), weight_decay=NON_NEGATIVE)
REALISM_RULES.update(hidden=Layers(), generator_share=SHARE, perturbed_share=SHARE, holdout=SHARE)
REALISM_RULES.update(seed=Int(0, 2**31 - 1))


@dataclass(frozen=True)
class RealismConfig:
    """How the realism scorer is trained."""

    steps: int = 1500
    """optimiser steps (batches of expert rows against as many negative rows)"""
    batch_size: int = 256
    """expert rows per step (and negative rows, a third from each source)"""
    lr: float = 1e-3
    """Adam learning rate"""
    weight_decay: float = 1e-4
    """AdamW weight decay (keeps the scorer from memorising the few expert episodes)"""
    hidden: tuple[int, ...] = (64, 64)
    """the MLP head's widths"""
    cnn_features: int = 256
    """NatureCNN features for image observations"""
    board_channels: int = 0
    """> 0: board-plane observations (``features.is_board_space``: connect four's (3, 6, 7)) go through a
    :class:`~genplay.gail.rewards.features.BoardCNN` of this many channels; 0: flattened into the MLP, as GAIL's
    discriminator reads them. Off by default: on connect four a 32-channel CNN measured no better than the
    MLP (0.78-0.87 held-out expert-vs-random AUC against 0.78-0.92, same data) and ten times slower"""
    generator_share: float = 0.2
    """share of every negative batch drawn from the generator's rollouts; near-expert generator rows labelled
    negative teach the scorer fine, spurious differences (measured on CartPole: the expert's own drifting
    episodes then scored like random ones), so they get less than the off-distribution negatives"""
    perturbed_share: float = 0.4
    """share drawn from action-perturbed expert rows (the rest of the batch: uniform-random rollouts)"""
    symmetries: bool = True
    """board games: train on every source's training episodes plus their images under the game's board
    symmetries (``boardgames.augment_symmetries``; connect four: the mirror), so the scorer cannot tell
    a position from its mirror image and sees twice the expert positions; other envs ignore it"""
    use_next_obs: bool = False
    """read ``(obs, action, next obs)``: the consequence of a move (a board game's reply) becomes evidence;
    perturbed rows are then left out (their next observation would be the expert's)"""
    holdout: float = 0.2
    """share of every source's episodes kept out of training, for the stored validation AUCs"""
    seed: int = 0
    """torch and numpy seed of the training (batches, perturbed actions, the hold-out split)"""

    def __post_init__(self) -> None:
        check_fields(self, REALISM_RULES, lambda _, name: "--scorer-" + name.replace("_", "-"))
        if self.generator_share + self.perturbed_share >= 1:
            raise GenplayError(
                "--scorer-perturbed-share: with the generator's share it must leave room for random rows"
            )


@dataclass(frozen=True)
class ScorerRecipe:
    """What ``genplay synth scorer`` trains on by default for an env family: the scorer's settings and how many
    expert, generator and random episodes it sees (flags given on the command line win)."""

    config: RealismConfig
    expert_episodes: int
    generator_episodes: int
    random_episodes: int


def scorer_recipe(env_id: str) -> ScorerRecipe:
    """The measured recipe for ``env_id``'s family. Board games: 10,000 expert-bot games against the
    generator's opponent and 5,000 random games, a 256x2 head, 4,000 steps at lr 3e-4 (connect four's
    held-out expert-vs-random AUC 0.908 where 100 demo games gave 0.775: the scorer must see the expert
    play the opponent it is judged against, and a flattened board needs many positions). Else the defaults
    measured on CartPole, Pendulum and Pong (AUC 1.0): 20 episodes of each kind."""
    from genplay.envs.boardgames import game_of

    if game_of(env_id) is not None:
        config = RealismConfig(steps=4_000, hidden=(256, 256), lr=3e-4)
        return ScorerRecipe(config, expert_episodes=10_000, generator_episodes=60, random_episodes=5_000)
    return ScorerRecipe(RealismConfig(), expert_episodes=20, generator_episodes=20, random_episodes=20)


@dataclass(frozen=True)
class RealismScorer:
    """A trained scorer: its network, how it was trained, what it was trained on, its held-out AUCs."""

    disc: TransitionDiscriminator
    config: RealismConfig
    hide_top_rows: int
    """frame rows hidden from the scorer (the run's ``disc_hide_top_rows``: Atari score displays)"""
    provenance: dict[str, Any]
    validation: dict[str, float]

    def transition_scores(self, demos: Demos) -> np.ndarray:
        """``sigmoid(logit)`` of every transition of ``demos`` (float32, in [0, 1])."""
        self.disc.eval()
        store = TransitionStore.from_episodes(
            demos.obs, demos.acts, demos.episode_lengths, with_next=self.disc.use_next_obs
        )
        with torch.no_grad():
            return torch.sigmoid(self.disc.logits(store)).cpu().numpy().astype(np.float32)

    def episode_scores(self, demos: Demos) -> np.ndarray:
        """The mean transition score of each episode."""
        return _episode_means(demos, self.transition_scores(demos))


def _episode_means(demos: Demos, values: np.ndarray) -> np.ndarray:
    ends = np.cumsum(demos.episode_lengths)
    return np.add.reduceat(values.astype(np.float64), ends - demos.episode_lengths) / demos.episode_lengths


def _split(demos: Demos, holdout: float, rng: np.random.Generator) -> tuple[Demos, Demos | None]:
    """(training episodes, held-out episodes or None); at least one episode stays in training."""
    n_out = int(round(holdout * demos.n_episodes)) if demos.n_episodes > 1 else 0
    n_out = min(n_out, demos.n_episodes - 1)
    if n_out == 0:
        return demos, None
    order = rng.permutation(demos.n_episodes)
    return select_episodes(demos, np.sort(order[n_out:])), select_episodes(demos, np.sort(order[:n_out]))


def with_symmetries(demos: Demos) -> Demos:
    """``demos`` plus their board-symmetric images when they are a board game's with action masks and
    known symmetries (``boardgames.symmetries``); ``demos`` unchanged otherwise."""
    from genplay.envs.boardgames import game_of
    from genplay.gail.suites.board_symmetry import augment_symmetries, symmetries

    game = game_of(str(demos.env_id))
    if game is None or demos.action_masks is None:
        return demos
    try:
        symmetries(game)
    except GenplayError:  # a board game without known symmetries
        return demos
    return augment_symmetries(demos, game)


def perturbed_actions(demos: Demos, space: spaces.Space, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per transition, another action than the expert's, drawn uniformly (from the legal ones when masked).

    Returns ``(actions, keep)``: ``keep`` is False where no other action exists (one legal move).
    """
    n = demos.n_transitions
    if isinstance(space, spaces.Discrete):
        legal = demos.action_masks.astype(bool) if demos.action_masks is not None else np.ones((n, space.n), dtype=bool)
        legal = legal.copy()
        legal[np.arange(n), demos.acts.reshape(-1) - int(space.start)] = False
        keep = legal.any(axis=1)
        u = rng.random(legal.shape) * legal  # the largest draw among the other legal actions
        return (u.argmax(axis=1) + int(space.start)).astype(demos.acts.dtype), keep
    own = copy.deepcopy(space)  # spaces carry their own RNG: sample from a seeded copy
    own.seed(int(rng.integers(2**31)))
    acts = np.stack([own.sample() for _ in range(n)]).astype(demos.acts.dtype).reshape(demos.acts.shape)
    keep = ~np.all((acts == demos.acts).reshape(n, -1), axis=1)
    return acts, keep


def _store(
    demos: Demos, acts: np.ndarray | None = None, rows: np.ndarray | None = None, *, with_next: bool = False
) -> TransitionStore:
    s = TransitionStore.from_episodes(demos.obs, demos.acts if acts is None else acts, demos.episode_lengths,
                                      with_next=with_next)  # fmt: skip
    if rows is None:
        return s
    return TransitionStore(s.obs, s.obs_idx[rows], s.acts[rows], None if s.next_idx is None else s.next_idx[rows])


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    from genplay.gail.evaluation.scores import auc

    return round(auc(pos, neg), 4)


def train_scorer(
    expert: Demos,
    negatives: dict[str, Demos],
    *,
    config: RealismConfig = RealismConfig(),
    hide_top_rows: int = 0,
    provenance: dict[str, Any] | None = None,
    log=None,
) -> RealismScorer:
    """Train a scorer on ``expert`` against ``negatives`` (``generator`` and ``random`` demos; see module doc).

    Action-perturbed expert rows are added as a third negative source here.
    """
    missing = [k for k in ("generator", "random") if k not in negatives]
    if missing:
        raise GenplayError(f"realism scorer: negatives {missing} missing (need the generator's and random rollouts)")
    for name, d in negatives.items():
        for field in ("observation_space", "action_space"):
            why = space_mismatch(getattr(d, field), getattr(expert, field))
            if why:
                raise GenplayError(f"realism scorer: the {name} rollouts' {field} differs from the expert's ({why})")
    from genplay.gail.saving.sb3_zip import space_from_description

    obs_space = space_from_description(expert.observation_space)
    act_space = space_from_description(expert.action_space)
    rng = np.random.default_rng(config.seed)
    expert_train, expert_val = _split(expert, config.holdout, rng)
    splits = {name: _split(d, config.holdout, rng) for name, d in negatives.items()}
    if config.symmetries:  # training episodes only: the held-out ones stay as played
        expert_train = with_symmetries(expert_train)
        splits = {name: (with_symmetries(train), val) for name, (train, val) in splits.items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        disc = TransitionDiscriminator(
            obs_space, act_space, hidden=config.hidden, activation="relu", use_next_obs=config.use_next_obs,
            cnn_features=config.cnn_features, hide_top_rows=hide_top_rows, board_channels=config.board_channels,
        )  # fmt: skip
    nxt = config.use_next_obs
    pos = _store(expert_train, with_next=nxt)
    disc.fit_scaling(pos)
    p_acts, p_keep = perturbed_actions(expert_train, act_space, rng)
    neg = {name: _store(train, with_next=nxt) for name, (train, _) in splits.items()}
    if not nxt:
        neg["perturbed"] = _store(expert_train, p_acts, np.flatnonzero(p_keep))
    neg = {k: s for k, s in neg.items() if len(s)}
    opt = torch.optim.AdamW(disc.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step_config = DiscriminatorStepConfig(loss="bce")
    shares = {"generator": config.generator_share, "perturbed": 0.0 if nxt else config.perturbed_share}
    shares["random"] = 1.0 - sum(shares.values())
    counts = {k: round(config.batch_size * shares[k]) for k in neg}
    neg = {k: s for k, s in neg.items() if counts[k] > 0}
    counts = {k: counts[k] for k in neg}
    held_out = _held_out_loss(disc, expert_val, {k: v for k, (_, v) in splits.items()}, counts, act_space, rng)
    best: tuple[float, int, dict | None] = (float("inf"), config.steps, None)
    every = max(1, config.steps // 30)
    stats: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        for step in range(config.steps):
            disc.train()
            real = disc.features(pos, rng.integers(len(pos), size=config.batch_size))
            fake = torch.cat([disc.features(s, rng.integers(len(s), size=counts[k])) for k, s in neg.items()])
            stats = discriminator_step(disc, opt, real, fake, step_config)
            if held_out is not None and ((step + 1) % every == 0 or step + 1 == config.steps):
                loss = held_out()
                if loss < best[0]:
                    best = (loss, step + 1, copy.deepcopy(disc.state_dict()))
            if log is not None and (step + 1) % max(1, config.steps // 5) == 0:
                log(f"realism scorer: step {step + 1}/{config.steps}, loss {stats['loss']:.3f}, held out {best[0]:.3f}")
    if best[2] is not None:  # early stopping: the weights with the lowest held-out loss
        disc.load_state_dict(best[2])
    disc.eval()
    scorer = RealismScorer(disc, config, hide_top_rows, dict(provenance or {}), {})
    validation = _validation(scorer, expert_val, {k: v for k, (_, v) in splits.items()}, act_space, rng)
    validation.update(train_loss=round(stats.get("loss", float("nan")), 4), best_step=best[1])
    if best[2] is not None:
        validation["held_out_loss"] = round(best[0], 4)
    episodes = {"expert": expert.n_episodes, **{k: d.n_episodes for k, d in negatives.items()}}
    prov = {**scorer.provenance, "episodes": episodes, "rows_per_batch": {"expert": config.batch_size, **counts}}
    prov["training_rows"] = {"expert": len(pos), **{k: len(v) for k, v in neg.items()}}  # symmetry images included
    return dataclasses.replace(scorer, provenance=prov, validation=validation)


HELD_OUT_ROWS = 2048
"""At most this many held-out rows per source are scored for early stopping (pixels are costly)."""


def _held_out_loss(disc, expert_val, neg_val, counts, act_space, rng):
    """A function giving the held-out BCE (batch-weighted as in training), or None without held-out data.

    Early stopping on it picks the training step; the AUCs ``synth report`` prints come from other
    episodes still, so the check stays untouched by this choice.
    """
    if expert_val is None or any(v is None for k, v in neg_val.items() if k in counts):
        return None
    p_acts, p_keep = perturbed_actions(expert_val, act_space, rng)
    nxt = disc.use_next_obs
    stores = {k: _store(v, with_next=nxt) for k, v in neg_val.items() if k in counts}
    if "perturbed" in counts:
        stores["perturbed"] = _store(expert_val, p_acts, np.flatnonzero(p_keep))
    stores = {k: s for k, s in stores.items() if len(s)}
    pos = _store(expert_val, with_next=nxt)

    def rows(s: TransitionStore) -> np.ndarray:
        return np.sort(rng.choice(len(s), size=min(len(s), HELD_OUT_ROWS), replace=False))

    pos_rows, neg_rows = rows(pos), {k: rows(s) for k, s in stores.items()}
    weight = {k: counts[k] / sum(counts[j] for j in stores) for k in stores}

    @torch.no_grad()
    def loss() -> float:
        disc.eval()
        total = float(torch.nn.functional.softplus(-disc(disc.features(pos, pos_rows))).mean())
        for k, s in stores.items():
            total += weight[k] * float(torch.nn.functional.softplus(disc(disc.features(s, neg_rows[k]))).mean())
        return total

    return loss


def _validation(
    scorer: RealismScorer, expert_val: Demos | None, neg_val: dict[str, Demos | None], act_space, rng
) -> dict[str, float]:
    """Per-episode AUCs of the held-out expert episodes against each held-out negative source."""
    if expert_val is None:
        return {}
    pos = scorer.episode_scores(expert_val)
    out = {f"auc_expert_vs_{k}": _auc(pos, scorer.episode_scores(v)) for k, v in neg_val.items() if v is not None}
    acts, keep = perturbed_actions(expert_val, act_space, rng)
    if keep.any():
        s = scorer.transition_scores(dataclasses.replace(expert_val, acts=acts))
        out["auc_expert_vs_perturbed_transitions"] = _auc(scorer.transition_scores(expert_val)[keep], s[keep])
    out["held_out_expert_episodes"] = expert_val.n_episodes
    return out


def noisy_policy(policy: Any, action_space: spaces.Space, epsilon: float, seed: int = 0) -> PolicyFn:
    """``policy`` whose every action is replaced, with probability ``epsilon``, by a uniformly random legal one.

    The unseen negative of ``synth report``: the expert's own behaviour, degraded, on the states it leads to.
    """
    act, rand, rng = as_policy_fn(policy), random_policy(action_space, seed), np.random.default_rng(seed)

    def noisy(obs, action_masks=None) -> np.ndarray:
        a = np.asarray(act(obs, action_masks)).copy()
        swap = rng.random(len(a)) < epsilon
        if swap.any():
            a[swap] = np.asarray(rand(obs, action_masks)).reshape(a.shape)[swap]
        return a

    return noisy


# ---------------------------------------------------------------------------- files


def save_scorer(path: str | Path, scorer: RealismScorer) -> None:
    """Write the scorer atomically (``state_io``: JSON + safetensors + sha256, never a pickle)."""
    d = scorer.disc
    state = {
        "format": FORMAT,
        "config": dataclasses.asdict(scorer.config),
        "observation_space": describe_space(d.observation_space),
        "action_space": describe_space(d.action_space),
        "hide_top_rows": scorer.hide_top_rows,
        "provenance": scorer.provenance,
        "validation": scorer.validation,
        "weights": d.state_dict(),
    }
    state_io.save_state(path, state)


def load_scorer(path: str | Path, *, observation_space=None, action_space=None) -> RealismScorer:
    """Read a scorer written by :func:`save_scorer`; every problem is one ``CheckpointError`` naming the file."""
    from genplay.gail.saving.sb3_zip import space_from_description

    state = state_io.load_state(path)
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: field 'format' is {state.get('format')!r}, expected {FORMAT!r}")
    try:
        config = dict(state["config"])
        config["hidden"] = tuple(config["hidden"])
        config.setdefault("board_channels", 0)  # files written before the board CNN flattened the board
        config.setdefault("symmetries", False)
        config = RealismConfig(**config)
        obs_space = space_from_description(state["observation_space"])
        act_space = space_from_description(state["action_space"])
        disc = TransitionDiscriminator(
            obs_space, act_space, hidden=config.hidden, activation="relu", use_next_obs=config.use_next_obs,
            cnn_features=config.cnn_features, hide_top_rows=int(state["hide_top_rows"]),
            board_channels=config.board_channels,
        )  # fmt: skip
        disc.load_state_dict(state["weights"])
    except Exception as exc:  # missing keys, wrong shapes, bad spaces: the file does not describe a scorer
        msg = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{path}: not a usable realism scorer ({type(exc).__name__}: {msg})") from None
    for name, space in (("observation_space", observation_space), ("action_space", action_space)):
        if space is not None:
            why = space_mismatch(state[name], describe_space(space))
            if why:
                raise CheckpointError(f"{path}: field {name!r} does not match the generator's ({why})")
    disc.eval()
    return RealismScorer(
        disc,
        config,
        int(state["hide_top_rows"]),
        dict(state.get("provenance") or {}),
        dict(state.get("validation") or {}),
    )
