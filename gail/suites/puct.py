"""PUCT search with a learned prior: a genplay board-game policy inside OpenSpiel's MCTS.

:class:`PolicyEvaluator` is an OpenSpiel ``mcts.Evaluator``: its ``prior`` is the run's policy
probabilities on the legal moves (softmax of the logits over the legal actions only, as the
masked policy plays), its ``evaluate`` the run's value head (:mod:`genplay.gail.suites.value_head`,
trained on the policy's self-play results) mixed with a random rollout by ``mix`` (AlphaGo's
lambda), a random rollout alone (as plain ``mcts:N`` does) or the run's critic. ``value="auto"``
(the default, and what ``puct:RUN_DIR:N`` bots use) takes the head where the run dir has one.
:func:`puct_bot` puts the evaluator into OpenSpiel's Python ``MCTSBot`` with
``SearchNode.puct_value`` child selection, so no search is written here; ``make_bot`` builds it
for the spec ``puct:RUN_DIR:N`` (installed by :mod:`genplay.gail.suites.boardgames`).

Speed: the prior and the head's value of a position come from one call and are cached per position
(board and player to move) across the moves of a game. Where the policy and the head are plain MLPs
of the same widths (the usual case), :class:`TwinMLP` runs both in one stacked numpy pass straight on
OpenSpiel's observation tensor, and the masked softmax is plain Python over the legal moves;
other networks go through :class:`PolicyNet` (numpy for MLPs over the planes or Othello's feature
planes, symmetry-averaged or not, else torch under ``torch.inference_mode``). ``batch_children`` also
evaluates a node's children in that call (slower: most children are never visited). The policy is loaded
without unpickling (``load_policy_model``)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyspiel
import torch
from open_spiel.python.algorithms import mcts
from open_spiel.python.observation import make_observation

from genplay.envs.board_bots import MAX_PUCT_SIMULATIONS
from genplay.envs.boardgames import GAMES
from genplay.errors import EnvError
from genplay.gail.suites.value_head import NumpyMLP, PlanesValue, TwinMLP, load_value_head, numpy_mlp
from genplay.settings import POSITIVE, UNIT, ConfigError, Int, OneOf, check_fields

VALUES = ("auto", "head", "rollout", "critic")
"""Leaf values: ``head`` (the run's value head, mixed with a rollout by ``mix``), ``rollout`` (one
uniformly random playout, as ``mcts:N``), ``critic`` (the run's PPO value net, from the mover's side,
clipped to [-1, 1]); ``auto`` is ``head`` where the run has one, else ``rollout``."""
DEFAULT_MIX = 0.0
"""Weight of the rollout in a head value, ``(1 - mix) * head + mix * rollout`` (AlphaGo's lambda). Connect
four, PUCT-50 vs ``mcts:50`` at c = 1, seeds 0-1: 0.795 / 0.79 with the head alone, 0.76 / 0.715 at 0.25
(at c = 2: 0.685 alone, 0.57 at 0.5, seed 0); one rollout is noisier than the head."""
ANTI_DECISIVE = ("auto", "off", "root", "tree")
"""Where the prior drops the moves that let the opponent win in one (:attr:`PuctConfig.anti_decisive`)."""
LINE_GAMES = ("tic_tac_toe", "connect_four")
"""Games that end at the move completing a line, where the win-in-one checks are on by default. Othello
ends when the board fills: a win in one is almost never there, and the check made its moves 1.4x slower
(PUCT-50 vs ``mcts:50``, seeds 0-2, 100 games each: 0.61 / 0.75 / 0.73 with it, 0.72 / 0.745 / 0.755 without)."""
PUCT_C = 2.0
"""Exploration constant with rollout or critic values: the same c as ``mcts:N``'s UCT (returns in [-1, 1])."""
HEAD_C = 1.0
"""Exploration constant with the value head: connect four, PUCT-50 vs ``mcts:50``, 100 games on each of
seeds 0-1, scored 0.70 / 0.615 at c = 0.5, 0.795 / 0.79 at 1, 0.685 / 0.64 at 2."""
CACHE_SIZE = 200_000
"""Positions whose prior (and critic value) is kept; the cache is emptied when full."""


@dataclass(frozen=True)
class PuctConfig:
    """How a PUCT bot searches: simulations, exploration constant, leaf value and its rollout weight
    ``mix``, seed, and the prior's temperature (logits divided by it before the masked softmax). ``c``
    None: :data:`HEAD_C` where the leaf value is the head, else :data:`PUCT_C`."""

    simulations: int
    c: float | None = None
    value: str = "auto"
    seed: int = 0
    temperature: float = 1.0
    mix: float = DEFAULT_MIX
    decisive: bool | None = None
    """Positions where the mover wins in one move get only the winning moves as prior and, with a head or
    critic value, the exact value (decisive moves, Teytaud & Teytaud 2010); plain MCTS is left as is.
    None: on in :data:`LINE_GAMES`."""
    anti_decisive: str = "auto"
    """Drop the moves that let the opponent win in one from the prior (anti-decisive moves): at the root
    (``root``: one two-ply check a move), at every expanded node (``tree``: stronger, about 1.4x the time) or
    ``off``; ``auto``: ``root`` in :data:`LINE_GAMES`, else ``off``."""

    def __post_init__(self) -> None:
        rules = {"simulations": Int(1, MAX_PUCT_SIMULATIONS), "value": OneOf(VALUES), "mix": UNIT,
                 "anti_decisive": OneOf(ANTI_DECISIVE)}  # fmt: skip
        if self.c is not None:
            rules["c"] = POSITIVE
        try:
            check_fields(self, {**rules, "seed": Int(0, 2**31 - 1), "temperature": POSITIVE})
        except ConfigError as exc:  # bot settings are refused as env errors, like the rest of a bot spec
            raise EnvError(str(exc)) from None


class PolicyNet:
    """Logits and values of a saved genplay policy on batches of ``(3, H, W)`` board planes.

    numpy where the policy is an MLP over flattened planes or over an extractor with ``numpy_features`` (Othello's
    planes), plain or averaged over the board's symmetries (``plain``: the first kind unaveraged, which
    :class:`TwinMLP` fuses with the value head); torch otherwise."""

    def __init__(self, model: Any, normalize: Callable | None = None) -> None:
        from stable_baselines3.common.torch_layers import FlattenExtractor

        from genplay.gail.suites.boardgame_policy import SymmetricMaskablePolicy

        self.policy = model.policy
        self.normalize = normalize
        p = self.policy
        kind = type(p).__name__
        flat = isinstance(p.features_extractor, FlattenExtractor)
        self.plain = kind in ("ActorCriticPolicy", "MaskableActorCriticPolicy") and flat
        self.features: Callable[[np.ndarray], np.ndarray] | None = None
        if kind in ("ActorCriticPolicy", "MaskableActorCriticPolicy", "SymmetricMaskablePolicy") and flat:
            self.features = self._flat
        elif normalize is None:  # an extractor of fixed arithmetic that has a numpy twin (Othello's planes)
            self.features = getattr(p.features_extractor, "numpy_features", None)
        self.symmetries = None  # (gather (G, HW), flat index (G, A) of image g's logit of a's image) when symmetric
        if isinstance(p, SymmetricMaskablePolicy):
            actions = p.sym_actions.cpu().numpy()
            flat_index = np.arange(len(actions))[:, None] * actions.shape[1] + actions
            self.symmetries = (p.sym_gather.cpu().numpy(), flat_index)
        actor = numpy_mlp(p.mlp_extractor.policy_net, p.action_net) if self.features is not None else None
        self.actor: NumpyMLP | None = actor
        self._critic = numpy_mlp(p.mlp_extractor.value_net, p.value_net) if self.plain else None

    def logits(self, planes: np.ndarray) -> np.ndarray:
        """``(B, A)`` action logits (unmasked); a symmetric policy's averaged over the board's images as it plays."""
        if self.actor is None or self.features is None:
            with torch.inference_mode():
                dist = self.policy.get_distribution(self._tensor(planes))
                return dist.distribution.logits.double().numpy()
        features = self.features(planes)
        if self.symmetries is None:
            return self.actor(features)
        gather, flat_index = self.symmetries  # as SymmetricMaskablePolicy._symmetric, on equivariant feature planes
        b, g = len(features), len(gather)
        images = features.reshape(b, -1, gather.shape[1])[:, :, gather].transpose(0, 2, 1, 3).reshape(b * g, -1)
        logits = self.actor(images).reshape(b, -1)  # (B, G * A), image-major
        return logits[:, flat_index].mean(1)

    def values(self, planes: np.ndarray) -> np.ndarray:
        """``(B,)`` critic values, from the side whose planes come first."""
        if self._critic is not None:
            return self._critic(self._flat(planes))[:, 0]
        with torch.inference_mode():
            return self.policy.predict_values(self._tensor(planes)).double().numpy()[:, 0]

    def _flat(self, planes: np.ndarray) -> np.ndarray:
        x = planes if self.normalize is None else self.normalize(planes)
        return np.asarray(x, dtype=np.float32).reshape(len(planes), -1)

    def _tensor(self, planes: np.ndarray) -> torch.Tensor:
        x = planes if self.normalize is None else self.normalize(planes)
        return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def masked_prior(logits: list[float], legal: list[int], temperature: float = 1.0) -> list[tuple[int, float]]:
    """``[(action, probability)]``: the softmax of ``logits / temperature`` over the ``legal`` actions only (the
    masked policy's probabilities), in plain Python: for a handful of moves a fraction of numpy's calls."""
    z = [logits[a] for a in legal]
    top = max(z)
    e = [math.exp((x - top) / temperature) for x in z]
    total = sum(e)
    return [(a, x / total) for a, x in zip(legal, e)]


def plane_order(game_name: str, n_inputs: int) -> list[np.ndarray]:
    """Per player, the indices of OpenSpiel's flat observation tensor that give the mover's own, opponent
    and empty planes (the env's observer's planes): ``planes = tensor[order[player]]``."""
    obs, cells = GAMES[game_name].observer, n_inputs // 3
    planes = [(obs.own[p], obs.opp[p], obs.empty) for p in (0, 1)]
    return [np.concatenate([np.arange(cells) + k * cells for k in ks]) for ks in planes]


def mover_planes(game_name: str, shape: tuple[int, ...]) -> Callable[[Any], np.ndarray]:
    """``planes(state)``: the mover's ``(3, H, W)`` own, opponent and empty planes, gathered from
    OpenSpiel's observation tensor (written into one reused buffer) in one indexing step."""
    gather = plane_order(game_name, int(np.prod(shape)))
    buffer = make_observation(pyspiel.load_game(game_name))

    def planes(state) -> np.ndarray:
        player = state.current_player()
        buffer.set_from(state, player)
        return buffer.tensor[gather[player]].reshape(3, *shape[1:])

    return planes


def decisive_moves(state, best: float) -> list[int]:
    """The mover's moves that end the game at once with return ``best`` for the mover (a win in one)."""
    mover = state.current_player()
    return [a for a in state.legal_actions() if (c := state.child(a)).is_terminal() and c.returns()[mover] >= best]


class PolicyEvaluator(mcts.Evaluator):
    """OpenSpiel evaluator: the learned policy's masked probabilities as prior; the value head (mixed with
    a rollout), a rollout or the critic as value.

    ``uniform=True`` replaces the prior by a uniform one (the switched-off control); ``batch_children``
    evaluates a position's children in the same call as the position (one batched forward pass).
    """

    def __init__(
        self, net: PolicyNet, game_name: str, shape: tuple[int, ...], value: str, rng: np.random.RandomState,
        *, head: Callable[[np.ndarray], np.ndarray] | None = None, mix: float = DEFAULT_MIX, uniform: bool = False,
        temperature: float = 1.0, batch_children: bool = False, decisive: bool = False, anti_decisive: str = "off",
    ) -> None:  # fmt: skip
        if value not in VALUES:
            raise EnvError(f"PUCT value must be one of {VALUES}, got {value!r}")
        if value == "auto":
            value = "rollout" if head is None else "head"
        if value == "head" and head is None:
            raise EnvError("PUCT value 'head': the run has no value head (scripts/train_value_head.py --run RUN)")
        self.net, self.shape, self.head, self.mix = net, shape, head, mix
        self.planes = mover_planes(game_name, shape)
        self.value, self.uniform, self.temperature, self.batch_children = value, uniform, temperature, batch_children
        self.playouts = random.Random(int(rng.randint(2**31)))  # 6x faster per move than numpy's choice
        self._cache: dict[tuple[int, str], tuple[list[tuple[int, float]], float]] = {}
        self._pruned: dict[tuple[int, str], list[tuple[int, float]]] = {}  # priors of expanded nodes
        self.net_calls = 0
        self.twin: TwinMLP | None = None
        """Policy and head in one pass on the observation tensor (the common, unbatched call), where they fit."""
        actor = getattr(net, "actor", None)
        plain = getattr(net, "plain", False) and getattr(net, "normalize", None) is None and not batch_children
        if value == "head" and not uniform and plain and isinstance(actor, NumpyMLP) and isinstance(head, PlanesValue):
            self.twin = TwinMLP.build(actor, head.mlp, plane_order(game_name, int(np.prod(shape))))
        game = pyspiel.load_game(game_name)
        self._observation = make_observation(game) if self.twin is not None else None
        self.decisive, self.max_utility = decisive, game.max_utility()
        self.anti_decisive, self.root_key = anti_decisive, None  # the bot sets root_key before each search

    def _entry(self, state) -> tuple[list[tuple[int, float]], float]:
        """``(prior, mover's value)`` of ``state``, from the cache or one batched call (with its children)."""
        key = (state.current_player(), str(state))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        if self.twin is not None:
            self.net_calls += 1
            self._observation.set_from(state, key[0])  # type: ignore[union-attr]
            logits, value = self.twin(self._observation.tensor, key[0])  # type: ignore[union-attr]
            entry = (masked_prior(logits.tolist(), state.legal_actions(), self.temperature), value)
            self._cache[key] = entry = self._with_decisive(state, entry)
            return entry
        batch, keys = [state], [key]
        if self.batch_children:
            for action in state.legal_actions():
                child = state.child(action)
                child_key = (child.current_player(), str(child))
                if not child.is_terminal() and child_key not in self._cache and child.current_player() >= 0:
                    batch.append(child)
                    keys.append(child_key)
        if len(self._cache) + len(batch) > CACHE_SIZE:
            self._cache.clear()
        self.net_calls += 1
        planes = self.planes(state)[None] if len(batch) == 1 else np.stack([self.planes(s) for s in batch])
        logits = None if self.uniform else self.net.logits(planes)
        values = np.zeros(len(batch))
        if self.value == "head":
            values = self.head(planes)  # type: ignore[misc]
        elif self.value == "critic":
            values = np.clip(self.net.values(planes), -1.0, 1.0)
        for i, (s, k) in enumerate(zip(batch, keys)):
            legal = s.legal_actions()
            prior = [(a, 1.0 / len(legal)) for a in legal]
            if logits is not None:
                prior = masked_prior(logits[i].tolist(), legal, self.temperature)
            self._cache[k] = self._with_decisive(s, (prior, float(values[i])))
        return self._cache[key]

    def _with_decisive(self, state, entry: tuple[list[tuple[int, float]], float]) -> tuple[list, float]:
        """``entry``, or (``decisive`` on) where the mover wins in one move: those moves as the prior and the
        game's best return as the value, so the search plays a win it would otherwise need visits to find."""
        if not self.decisive:
            return entry
        wins = decisive_moves(state, self.max_utility)
        return ([(a, 1.0 / len(wins)) for a in wins], self.max_utility) if wins else entry

    def _anti_decisive(self, state, prior: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """``prior`` without the moves that let the opponent win in one (anti-decisive moves), renormalised;
        unchanged when every move or none does. Checked when a node is expanded (the root, or every node),
        not at every leaf: it looks two plies ahead."""
        safe = [(a, p) for a, p in prior if not decisive_moves(state.child(a), self.max_utility)]
        if not safe or len(safe) == len(prior):
            return prior
        total = sum(p for _, p in safe)
        return [(a, p / total) for a, p in safe] if total > 0 else [(a, 1.0 / len(safe)) for a, _ in safe]

    def prior(self, state) -> list[tuple[int, float]]:
        """``[(action, probability)]`` over the legal actions of ``state``'s mover (a fresh list: MCTSBot
        shuffles it)."""
        if self.uniform and self.value == "rollout":
            legal = state.legal_actions(state.current_player())
            return [(a, 1.0 / len(legal)) for a in legal]
        key = (state.current_player(), str(state))
        if self.anti_decisive == "off" or (self.anti_decisive == "root" and key != self.root_key):
            return list(self._entry(state)[0])
        pruned = self._pruned.get(key)
        if pruned is None:
            if len(self._pruned) >= CACHE_SIZE:
                self._pruned.clear()
            pruned = self._pruned[key] = self._anti_decisive(state, self._entry(state)[0])
        return list(pruned)

    def rollout(self, state) -> np.ndarray:
        """Returns per player of one uniformly random playout from ``state``."""
        working, draw = state.clone(), self.playouts.random
        while not working.is_terminal():
            legal = working.legal_actions()
            working.apply_action(legal[int(draw() * len(legal))])
        return np.asarray(working.returns(), dtype=np.float64)

    def evaluate(self, state) -> np.ndarray | list[float]:
        """Returns per player: the head's (mixed with a rollout's), a rollout's or the critic's value."""
        if self.value == "rollout":
            return self.rollout(state)
        v = self._entry(state)[1]
        out = [v, -v] if state.current_player() == 0 else [-v, v]  # a list: MCTSBot only indexes it
        if self.value == "head" and self.mix > 0:
            return (1.0 - self.mix) * np.asarray(out) + self.mix * self.rollout(state)
        return out


def load_net(run_dir: str | Path, game_name: str) -> PolicyNet:
    """The policy of a ``genplay train`` run dir (or policy zip) of ``game_name``, loaded without unpickling."""
    from genplay.gail.saving.run_files import load_policy_model

    if game_name not in GAMES:
        raise EnvError(f"puct: {game_name!r} is not a genplay board game; expected one of {sorted(GAMES)}")
    model, normalize, _ = load_policy_model(run_dir, env_id=GAMES[game_name].env_id)
    return PolicyNet(model, normalize)


def puct_bot(
    run_dir: str | Path | PolicyNet,
    game: Any,
    config: PuctConfig,
    *,
    head: Callable[[np.ndarray], np.ndarray] | None = None,
    uniform: bool = False,
    uct: bool = False,
    batch_children: bool = False,
) -> Callable[[Any], int]:
    """``bot(state) -> action``: OpenSpiel's ``MCTSBot`` with PUCT selection and :class:`PolicyEvaluator`.

    ``run_dir`` is a run dir, a policy zip or an already loaded :class:`PolicyNet` (shared by bots);
    the value head is read from a run dir (``value_head.state``) unless ``head`` is given.
    The bot keeps its evaluator as ``bot.evaluator`` (its cache and ``net_calls``). Controls:
    ``uniform`` drops the learned prior; with ``uct`` too it is plain MCTS (UCT selection, the same
    rollouts and search code), the baseline that times the prior's own cost.
    """
    name = game.get_type().short_name
    net = run_dir if isinstance(run_dir, PolicyNet) else load_net(run_dir, name)
    if head is None and not isinstance(run_dir, PolicyNet) and config.value in ("auto", "head"):
        head = load_value_head(run_dir, name)
    rng = np.random.RandomState(config.seed % 2**32)
    shape, line = tuple(game.observation_tensor_shape()), name in LINE_GAMES
    evaluator = PolicyEvaluator(
        net, name, shape, config.value, rng, head=head, mix=config.mix, uniform=uniform,
        temperature=config.temperature, batch_children=batch_children,
        decisive=line if config.decisive is None else config.decisive,
        anti_decisive=("root" if line else "off") if config.anti_decisive == "auto" else config.anti_decisive,
    )  # fmt: skip
    c = config.c if config.c is not None else (HEAD_C if evaluator.value == "head" else PUCT_C)
    search = mcts.MCTSBot(
        game, c, config.simulations, evaluator, solve=True, random_state=rng,
        child_selection_fn=mcts.SearchNode.uct_value if uct else mcts.SearchNode.puct_value,
    )  # fmt: skip

    def act(state) -> int:
        evaluator.root_key = (state.current_player(), str(state))
        return int(search.step(state))

    act.evaluator, act.c = evaluator, c  # type: ignore[attr-defined]
    return act


def spec_bot(run_dir: str, game: Any, simulations: int, seed: int) -> Callable[[Any], int]:
    """The ``puct:RUN_DIR:N`` bot: the run's value head where it has one (c = 1), else rollouts (c = 2)."""
    return puct_bot(run_dir, game, PuctConfig(simulations=simulations, seed=seed))
