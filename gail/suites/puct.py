"""PUCT search with a learned prior: a genplay board-game policy inside OpenSpiel's MCTS.

:class:`PolicyEvaluator` is an OpenSpiel ``mcts.Evaluator``: its ``prior`` is the run's policy
probabilities on the legal moves (softmax of the logits over the legal actions only, as the
masked policy plays), its ``evaluate`` a random rollout (as plain ``mcts:N`` does) or the run's
critic. :func:`puct_bot` puts it into OpenSpiel's Python ``MCTSBot`` with
``SearchNode.puct_value`` child selection, so no search is written here; ``make_bot`` builds it
for the spec ``puct:RUN_DIR:N`` (installed by :mod:`genplay.gail.suites.boardgames`).

Speed: priors are cached per position (board and player to move) across the moves of a game,
and a plain MLP policy (genplay's board-game BC/GAIL default) runs as numpy matrix products,
which for one position cost a fraction of a torch call; other networks run under
``torch.inference_mode``. The policy is loaded without unpickling (``load_policy_model``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from open_spiel.python.algorithms import mcts

from genplay.envs.board_bots import MAX_PUCT_SIMULATIONS
from genplay.envs.boardgames import GAMES
from genplay.errors import EnvError
from genplay.settings import POSITIVE, ConfigError, Int, OneOf, check_fields

VALUES = ("rollout", "critic")
"""Leaf values: ``rollout`` (one uniformly random playout, as ``mcts:N``) or ``critic`` (the run's
value net, from the mover's side, clipped to [-1, 1])."""
PUCT_C = 2.0
"""Exploration constant: the same c as ``mcts:N``'s UCT (returns are in [-1, 1])."""
CACHE_SIZE = 200_000
"""Positions whose prior (and critic value) is kept; the cache is emptied when full."""


@dataclass(frozen=True)
class PuctConfig:
    """How a PUCT bot searches: simulations, exploration constant, leaf value, seed, and the prior's
    temperature (logits divided by it before the masked softmax; > 1 flattens an overconfident clone)."""

    simulations: int
    c: float = PUCT_C
    value: str = "rollout"
    seed: int = 0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        rules = {"simulations": Int(1, MAX_PUCT_SIMULATIONS), "c": POSITIVE, "value": OneOf(VALUES)}
        try:
            check_fields(self, {**rules, "seed": Int(0, 2**31 - 1), "temperature": POSITIVE})
        except ConfigError as exc:  # bot settings are refused as env errors, like the rest of a bot spec
            raise EnvError(str(exc)) from None


def _numpy_mlp(layers: torch.nn.Module, head: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray] | None:
    """``x -> head(layers(x))`` in numpy when ``layers`` is Linear/ReLU/Tanh only, else None."""
    modules = [*layers, head] if isinstance(layers, torch.nn.Sequential) else [layers, head]
    steps: list[tuple[str, Any, Any]] = []
    for module in modules:
        if isinstance(module, torch.nn.Linear):
            w = module.weight.detach().cpu().float().numpy().T.copy()
            b = np.float32(0.0) if module.bias is None else module.bias.detach().cpu().float().numpy()
            steps.append(("linear", w, b))
        elif isinstance(module, (torch.nn.ReLU, torch.nn.Tanh)):
            steps.append((type(module).__name__, None, None))
        elif not isinstance(module, torch.nn.Identity):
            return None

    def run(x: np.ndarray) -> np.ndarray:
        for kind, w, b in steps:
            x = x @ w + b if kind == "linear" else (np.maximum(x, 0.0) if kind == "ReLU" else np.tanh(x))
        return x

    return run


class PolicyNet:
    """Logits and values of a saved genplay policy on batches of ``(3, H, W)`` board planes."""

    def __init__(self, model: Any, normalize: Callable | None = None) -> None:
        from stable_baselines3.common.torch_layers import FlattenExtractor

        self.policy = model.policy
        self.normalize = normalize
        p = self.policy
        plain = type(p).__name__ in ("ActorCriticPolicy", "MaskableActorCriticPolicy") and isinstance(
            p.features_extractor, FlattenExtractor
        )
        self._actor = _numpy_mlp(p.mlp_extractor.policy_net, p.action_net) if plain else None
        self._critic = _numpy_mlp(p.mlp_extractor.value_net, p.value_net) if plain else None

    def logits(self, planes: np.ndarray) -> np.ndarray:
        """``(B, A)`` action logits (unmasked)."""
        if self._actor is not None:
            return self._actor(self._flat(planes))
        with torch.inference_mode():
            dist = self.policy.get_distribution(self._tensor(planes))
            return dist.distribution.logits.double().numpy()

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


def masked_probs(logits: np.ndarray, legal: list[int]) -> np.ndarray:
    """Softmax of ``logits`` over the ``legal`` actions only (the masked policy's probabilities)."""
    z = logits[legal].astype(np.float64)
    z -= z.max()
    e = np.exp(z)
    return e / e.sum()


class PolicyEvaluator(mcts.Evaluator):
    """OpenSpiel evaluator: the learned policy's masked probabilities as prior, rollout or critic as value.

    ``uniform=True`` replaces the prior by a uniform one (the switched-off control).
    """

    def __init__(
        self, net: PolicyNet, game_name: str, shape: tuple[int, ...], value: str, rng: np.random.RandomState,
        *, uniform: bool = False, temperature: float = 1.0,
    ) -> None:  # fmt: skip
        if value not in VALUES:
            raise EnvError(f"PUCT value must be one of {VALUES}, got {value!r}")
        self.net, self.shape = net, shape
        obs, cells = GAMES[game_name].observer, int(np.prod(shape[1:]))
        self._gather = [  # per player: the flat tensor's own, opponent and empty planes, in that order
            np.concatenate([np.arange(cells) + k * cells for k in (obs.own[p], obs.opp[p], obs.empty)]) for p in (0, 1)
        ]
        self.value, self.uniform, self.temperature = value, uniform, temperature
        self.playouts = random.Random(int(rng.randint(2**31)))  # 6x faster per move than numpy's choice
        self._priors: dict[tuple[int, str], list[tuple[int, float]]] = {}
        self._values: dict[tuple[int, str], float] = {}
        self.net_calls = 0

    def planes(self, state) -> np.ndarray:
        """The mover's view of ``state``: ``(3, H, W)`` own, opponent, empty (the env's observer's planes,
        gathered in one indexing step)."""
        player = state.current_player()
        tensor = np.asarray(state.observation_tensor(player), dtype=np.float32)
        return tensor[self._gather[player]].reshape(3, *self.shape[1:])

    def prior(self, state) -> list[tuple[int, float]]:
        """``[(action, probability)]`` over the legal actions of ``state``'s mover."""
        legal = state.legal_actions(state.current_player())
        if self.uniform:
            return [(a, 1.0 / len(legal)) for a in legal]
        key = (state.current_player(), str(state))
        cached = self._priors.get(key)
        if cached is None:
            if len(self._priors) >= CACHE_SIZE:
                self._priors.clear()
            self.net_calls += 1
            probs = masked_probs(self.net.logits(self.planes(state)[None])[0] / self.temperature, legal)
            cached = self._priors[key] = [(a, float(p)) for a, p in zip(legal, probs)]
        return list(cached)

    def evaluate(self, state) -> np.ndarray:
        """Returns per player: a random playout's, or the critic's value for the mover (negated for the other)."""
        if self.value == "rollout":
            working, draw = state.clone(), self.playouts.random
            while not working.is_terminal():
                legal = working.legal_actions()
                working.apply_action(legal[int(draw() * len(legal))])
            return np.asarray(working.returns(), dtype=np.float64)
        key = (state.current_player(), str(state))
        v = self._values.get(key)
        if v is None:
            if len(self._values) >= CACHE_SIZE:
                self._values.clear()
            self.net_calls += 1
            v = self._values[key] = float(np.clip(self.net.values(self.planes(state)[None])[0], -1.0, 1.0))
        out = np.full(2, -v)
        out[state.current_player()] = v
        return out


def load_net(run_dir: str | Path, game_name: str) -> PolicyNet:
    """The policy of a ``genplay train`` run dir (or policy zip) of ``game_name``, loaded without unpickling."""
    from genplay.gail.saving.run_files import load_policy_model

    if game_name not in GAMES:
        raise EnvError(f"puct: {game_name!r} is not a genplay board game; expected one of {sorted(GAMES)}")
    model, normalize, _ = load_policy_model(run_dir, env_id=GAMES[game_name].env_id)
    return PolicyNet(model, normalize)


def puct_bot(
    run_dir: str | Path | PolicyNet, game: Any, config: PuctConfig, *, uniform: bool = False, uct: bool = False
) -> Callable[[Any], int]:
    """``bot(state) -> action``: OpenSpiel's ``MCTSBot`` with PUCT selection and :class:`PolicyEvaluator`.

    ``run_dir`` is a run dir, a policy zip or an already loaded :class:`PolicyNet` (shared by bots).
    The bot keeps its evaluator as ``bot.evaluator`` (its cache and ``net_calls``). Controls:
    ``uniform`` drops the learned prior; with ``uct`` too it is plain MCTS (UCT selection, the same
    rollouts and search code), the baseline that times the prior's own cost.
    """
    name = game.get_type().short_name
    net = run_dir if isinstance(run_dir, PolicyNet) else load_net(run_dir, name)
    rng = np.random.RandomState(config.seed % 2**32)
    shape = tuple(game.observation_tensor_shape())
    evaluator = PolicyEvaluator(net, name, shape, config.value, rng, uniform=uniform, temperature=config.temperature)
    search = mcts.MCTSBot(
        game, config.c, config.simulations, evaluator, solve=True, random_state=rng,
        child_selection_fn=mcts.SearchNode.uct_value if uct else mcts.SearchNode.puct_value,
    )  # fmt: skip

    def act(state) -> int:
        return int(search.step(state))

    act.evaluator = evaluator  # type: ignore[attr-defined]
    return act


def spec_bot(run_dir: str, game: Any, simulations: int, seed: int) -> Callable[[Any], int]:
    """The ``puct:RUN_DIR:N`` bot (random-rollout values): what ``make_bot`` calls through its hook."""
    return puct_bot(run_dir, game, PuctConfig(simulations=simulations, seed=seed))
