"""A value head for PUCT: an MLP that predicts the mover's game result from the board planes.

Data: self-play games of the run's own policy (each move sampled from its masked probabilities,
the first ``random_moves`` plies uniformly random so the games spread out), every position labelled
with the game's final result from its mover's side (+1 win, 0 draw, -1 loss) and augmented with
the board's symmetries. This is AlphaGo's value-network recipe on a small scale (outcomes of the
policy's self-play, a regression through a tanh); games, not positions, are held out, because the
positions of one game share its label. :mod:`genplay.gail.suites.puct` uses the head as the leaf
value, optionally mixed with a random rollout (AlphaGo's lambda).

The head is stored beside the policy as ``value_head.state`` (genplay's state format: JSON +
safetensors, checksummed, never unpickled), so a ``puct:RUN_DIR:N`` bot finds it. Search runs it
in numpy (:class:`NumpyMLP`), together with the policy in one pass where their shapes allow
(:class:`TwinMLP`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genplay.errors import CheckpointError
from genplay.generative.core.state_io import load_state, save_state
from genplay.settings import POSITIVE, STEP_SIZE, Int, Layers, Real, check_fields

VALUE_HEAD_FILE = "value_head.state"
"""The head's file name inside a run dir."""
KIND = "genplay.value_head"


@dataclass(frozen=True)
class ValueHeadConfig:
    """How the value head's data is played and how it is fitted."""

    games: int = 20_000
    """Self-play games of the policy."""
    random_moves: int = 2
    """Opening plies played uniformly at random (variety; the labels still come from the policy's play)."""
    temperature: float = 1.0
    """The policy's softmax temperature in self-play (1 = its own probabilities)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layers of the head (ReLU)."""
    epochs: int = 30
    """Most passes over the training positions; early stopping on held-out games ends sooner."""
    patience: int = 3
    """Epochs without held-out improvement before the fit stops."""
    batch_size: int = 512
    """Minibatch size."""
    lr: float = 1e-3
    """Adam step size."""
    holdout: float = 0.1
    """Fraction of the games held out for early stopping and the reported error."""
    seed: int = 0
    """Seed of the self-play, the split, the init and the minibatches."""

    def __post_init__(self) -> None:
        check_fields(
            self,
            {
                "games": Int(10, 10_000_000),
                "random_moves": Int(0, 100),
                "temperature": POSITIVE,
                "hidden": Layers(),
                "epochs": Int(1, 10_000),
                "patience": Int(1, 10_000),
                "batch_size": Int(1, 65_536),
                "lr": STEP_SIZE,
                "holdout": Real(0.0, 0.5, low_open=True),
                "seed": Int(0, 2**31 - 1),
            },
        )


def build_head(n_inputs: int, hidden: tuple[int, ...]) -> torch.nn.Sequential:
    """``planes (flattened) -> hidden ReLU layers -> 1 -> tanh``."""
    layers: list[torch.nn.Module] = []
    width = n_inputs
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    return torch.nn.Sequential(*layers, torch.nn.Linear(width, 1), torch.nn.Tanh())


def selfplay_positions(
    policy_logits: Callable[[np.ndarray], np.ndarray],
    planes_of: Callable[[Any], np.ndarray],
    game: Any,
    config: ValueHeadConfig,
    *,
    batch: int = 256,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(planes, results, game_index)`` of ``config.games`` self-play games of the policy.

    ``policy_logits`` maps ``(B, 3, H, W)`` mover planes to ``(B, A)`` logits; ``planes_of(state)``
    is the mover's view. Games run ``batch`` at a time so each ply is one batched forward pass.
    """
    rng = np.random.default_rng(config.seed)
    planes, games = [], []
    results: list[np.ndarray] = []
    for start in range(0, config.games, batch):
        states = [game.new_initial_state() for _ in range(min(batch, config.games - start))]
        rows: list[tuple[int, int]] = []  # (game in batch, mover) per recorded position
        ply = 0
        while True:
            live = [i for i, s in enumerate(states) if not s.is_terminal()]
            if not live:
                break
            views = np.stack([planes_of(states[i]) for i in live])
            logits = policy_logits(views) / config.temperature if ply >= config.random_moves else None
            for k, i in enumerate(live):
                s = states[i]
                legal = s.legal_actions()
                rows.append((start + i, s.current_player()))
                if logits is None:
                    action = legal[int(rng.integers(len(legal)))]
                else:
                    z = logits[k, legal].astype(np.float64)
                    p = np.exp(z - z.max())
                    action = legal[int(rng.choice(len(legal), p=p / p.sum()))]
                s.apply_action(action)
            planes.append(views)
            ply += 1
        returns = np.asarray([s.returns() for s in states], dtype=np.float32)
        idx = np.asarray(rows)
        results.append(returns[idx[:, 0] - start, idx[:, 1]])
        games.append(idx[:, 0])
    return np.concatenate(planes).astype(np.float32), np.concatenate(results), np.concatenate(games)


def augment(planes: np.ndarray, results: np.ndarray, games: np.ndarray, game_name: str) -> tuple[np.ndarray, ...]:
    """Each position once per board symmetry of ``game_name`` (the result does not change)."""
    from genplay.gail.suites.board_symmetry import symmetries

    fns = [fn for fn, _ in symmetries(game_name)]
    out = np.concatenate([np.ascontiguousarray(fn(planes)) for fn in fns])
    return out, np.tile(results, len(fns)), np.tile(games, len(fns))


def fit_head(
    planes: np.ndarray, results: np.ndarray, games: np.ndarray, config: ValueHeadConfig
) -> tuple[torch.nn.Sequential, dict[str, float]]:
    """The head fitted by mean squared error, early-stopped on held-out games; ``(head, report)``."""
    gen = torch.Generator().manual_seed(config.seed)
    ids = np.unique(games)
    held = np.random.default_rng(config.seed).permutation(ids)[: max(1, int(round(config.holdout * len(ids))))]
    test = np.isin(games, held)
    x = torch.as_tensor(planes.reshape(len(planes), -1))
    y = torch.as_tensor(results, dtype=torch.float32)
    x_tr, y_tr, x_te, y_te = x[~test], y[~test], x[test], y[test]
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        head = build_head(x.shape[1], config.hidden)
    opt = torch.optim.Adam(head.parameters(), lr=config.lr)

    def heldout() -> float:
        with torch.no_grad():
            return float(torch.mean((head(x_te)[:, 0] - y_te) ** 2))

    best, best_state, stale, epochs = heldout(), None, 0, 0
    for _ in range(config.epochs):
        epochs += 1
        order = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(order), config.batch_size):
            b = order[i : i + config.batch_size]
            loss = torch.mean((head(x_tr[b])[:, 0] - y_tr[b]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        mse = heldout()
        if mse < best - 1e-5:
            best, best_state, stale = mse, {k: v.clone() for k, v in head.state_dict().items()}, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        head.load_state_dict(best_state)
    with torch.no_grad():
        pred = head(x_te)[:, 0]
        decided = y_te != 0
        sign_acc = float((torch.sign(pred[decided]) == y_te[decided]).float().mean()) if decided.any() else float("nan")
    base = float(torch.mean((y_te - y_tr.mean()) ** 2))
    report = {"heldout_mse": round(best, 4), "constant_mse": round(base, 4),
              "heldout_sign_accuracy": round(sign_acc, 4), "train_positions": int(len(x_tr)),
              "heldout_positions": int(len(x_te)), "epochs_run": epochs}  # fmt: skip
    return head, report


def train_value_head(
    run_dir: str | Path,
    game: Any,
    policy_logits: Callable[[np.ndarray], np.ndarray],
    planes_of: Callable[[Any], np.ndarray],
    config: ValueHeadConfig,
) -> dict[str, Any]:
    """Play, fit and store ``run_dir``'s value head (``value_head.state``); returns the fit's report.

    ``policy_logits`` and ``planes_of`` are the run's policy and the mover's view (``puct.PolicyNet.logits``
    and ``puct.mover_planes``); ``game`` is the ``pyspiel`` game.
    """
    start = time.perf_counter()
    game_name = game.get_type().short_name
    planes, results, games = selfplay_positions(policy_logits, planes_of, game, config)
    play_s = time.perf_counter() - start
    n_positions = len(planes)
    planes, results, games = augment(planes, results, games, game_name)
    head, report = fit_head(planes, results, games, config)
    state = {
        "kind": KIND,
        "game": game_name,
        "shape": list(planes.shape[1:]),
        "source": "self-play of the run's policy",
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "report": report,
        "weights": {k: v.detach().clone() for k, v in head.state_dict().items()},
    }
    save_state(Path(run_dir) / VALUE_HEAD_FILE, state)
    return {**report, "games": config.games, "positions": n_positions, "play_s": round(play_s, 1),
            "fit_s": round(time.perf_counter() - start - play_s, 1)}  # fmt: skip


def load_value_head(run_dir: str | Path, game_name: str) -> PlanesValue | None:
    """``planes (B, 3, H, W) -> values (B,)`` of ``run_dir``'s stored head, or None when it has none.

    A file that is there but not a value head of ``game_name`` is refused (``CheckpointError``).
    """
    path = Path(run_dir) / VALUE_HEAD_FILE
    if not Path(run_dir).is_dir() or not path.exists():
        return None
    state = load_state(path)
    if state.get("kind") != KIND or state.get("game") != game_name:
        raise CheckpointError(
            f"{path}: field 'kind'/'game' is {state.get('kind')!r}/{state.get('game')!r}; "
            f"expected {KIND!r}/{game_name!r}"
        )
    weights, shape, hidden = state.get("weights"), state.get("shape"), None
    try:
        hidden = state["config"]["hidden"]
        head = build_head(int(np.prod(shape)), tuple(int(h) for h in hidden))
        head.load_state_dict(weights)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path}: field 'weights' does not fit shape {shape} and hidden {hidden} ({type(exc).__name__})"
        ) from None
    mlp = numpy_mlp(head)
    assert mlp is not None  # build_head uses Linear, ReLU and Tanh only
    return PlanesValue(mlp)


Layer = tuple[str, np.ndarray | None, np.ndarray | None]
"""``("linear", w (in, out), b)``, ``("ReLU", None, None)`` or ``("Tanh", None, None)``."""


@dataclass(frozen=True)
class NumpyMLP:
    """A chain of float32 Linear / ReLU / Tanh layers in numpy, ``(B, n_in) -> (B, n_out)``: one position
    through a small MLP costs a fraction of a torch call, and PUCT makes one per leaf."""

    layers: tuple[Layer, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for kind, w, b in self.layers:
            x = x @ w + b if kind == "linear" else (np.maximum(x, 0.0) if kind == "ReLU" else np.tanh(x))
        return x


@dataclass(frozen=True)
class PlanesValue:
    """The stored head as ``planes (B, 3, H, W) -> values (B,)``; ``mlp`` is its numpy network."""

    mlp: NumpyMLP

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        return self.mlp(np.asarray(planes, dtype=np.float32).reshape(len(planes), -1))[:, 0]


def numpy_mlp(*modules: torch.nn.Module) -> NumpyMLP | None:
    """The chain of ``modules`` (Sequentials flattened) as a :class:`NumpyMLP` when it is Linear/ReLU/Tanh
    only, else None."""
    flat = [m for module in modules for m in (module if isinstance(module, torch.nn.Sequential) else [module])]
    layers: list[Layer] = []
    for module in flat:
        if isinstance(module, torch.nn.Linear):
            w = module.weight.detach().cpu().float().numpy().T.copy()
            b = np.zeros(w.shape[1], np.float32) if module.bias is None else module.bias.detach().cpu().float().numpy()
            layers.append(("linear", w, b.copy()))
        elif isinstance(module, (torch.nn.ReLU, torch.nn.Tanh)):
            layers.append((type(module).__name__, None, None))
        elif not isinstance(module, torch.nn.Identity):
            return None
    return NumpyMLP(tuple(layers))


class TwinMLP:
    """The policy's logits and the value head's value of one position in one numpy pass.

    Both are MLPs on the same planes with the same hidden widths (the DAgger/BC policy and the head
    fitted here; their activations may differ), so their layers stack: the first layers
    side by side, the others as a batch of two; the first layer's rows are permuted per player so that
    it reads OpenSpiel's observation tensor directly (no planes are built). Built by :meth:`build`, None
    where the two networks do not line up.
    """

    def __init__(self, first: list[np.ndarray], layers: list[tuple[str, Any, Any]], n_actions: int) -> None:
        self.first, self.layers, self.n_actions = first, layers, n_actions

    @staticmethod
    def build(actor: NumpyMLP, head: NumpyMLP, gather: list[np.ndarray]) -> TwinMLP | None:
        """Stack ``actor`` (logits) and ``head`` (one value through a tanh); None if they differ in shape."""
        a, h = list(actor.layers), list(head.layers)
        linear = [k == "linear" for k, _, _ in a]
        if not h or h[-1][0] != "Tanh" or len(a) != len(h) - 1 or linear != [k == "linear" for k, _, _ in h[:-1]]:
            return None
        shapes = [(w.shape, hw.shape) for (k, w, _), (_, hw, _) in zip(a, h) if k == "linear"]
        if any(sa != sh for sa, sh in shapes[:-1]) or shapes[-1][0][0] != shapes[-1][1][0] or shapes[-1][1][1] != 1:
            return None
        if a[0][0] != "linear" or any(len(g) != a[0][1].shape[0] for g in gather):
            return None
        w0 = np.concatenate([a[0][1], h[0][1]], axis=1)
        first = []
        for g in gather:  # tensor @ w == tensor[g] @ w0 when w's row g[i] is w0's row i
            w = np.zeros_like(w0)
            np.add.at(w, g, w0)
            first.append(w)
        n_actions = a[-1][1].shape[1]
        layers: list[tuple[str, Any, Any]] = [("bias", None, np.concatenate([a[0][2], h[0][2]])[None])]
        for i, ((kind, w, b), (head_kind, hw, hb)) in enumerate(zip(a[1:], h[1:]), start=1):
            if kind != "linear":  # activations: one for both halves, or each its own
                layers.append((kind, None, None) if kind == head_kind else ("pair", kind, head_kind))
                continue
            if i == len(a) - 1:  # the output layers: the value's one column padded to the policy's width
                hw = np.concatenate([hw, np.zeros((hw.shape[0], n_actions - 1), hw.dtype)], axis=1)
                hb = np.concatenate([hb, np.zeros(n_actions - 1, hb.dtype)])
            layers.append(("linear", np.stack([w, hw]), np.stack([b, hb])[:, None]))
        return TwinMLP(first, layers, n_actions)

    def __call__(self, tensor: np.ndarray, player: int) -> tuple[np.ndarray, float]:
        """``(logits (A,), value)`` of the flat observation ``tensor`` of ``player`` (the mover)."""
        x = tensor @ self.first[player]
        for kind, w, b in self.layers:
            if kind == "bias":
                x = (x + b).reshape(2, 1, -1)  # policy and head rows, each a batch of one
            elif kind == "linear":
                x = np.matmul(x, w) + b
            elif kind == "pair":
                x = np.stack([_activation(w, x[0]), _activation(b, x[1])])
            else:
                x = _activation(kind, x)
        return x[0, 0], math.tanh(float(x[1, 0, 0]))


def _activation(kind: str, x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0) if kind == "ReLU" else np.tanh(x)
