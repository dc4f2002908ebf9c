"""Evaluate policies on the true env reward and report them beside expert and random."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.evaluation import evaluate_policy

from genplay.envs import EnvFactory, as_factory
from genplay.gail.data.collect import PolicyFn, as_policy_fn, random_policy, supports_action_masks


@dataclass(frozen=True)
class EvalResult:
    """Returns of one policy over ``n_episodes`` on the true reward."""

    name: str
    mean: float
    std: float
    n_episodes: int
    normalized: float | None = None


class _Predictor:
    """Gives a batched callable (or "random") SB3's ``predict`` signature, for SB3's evaluators."""

    def __init__(self, policy: Any, action_space, seed: int, deterministic: bool) -> None:
        if isinstance(policy, str) and policy == "random":
            self.act: PolicyFn = random_policy(action_space, seed)
        else:
            self.act = as_policy_fn(policy, deterministic=deterministic)

    def predict(self, obs, state=None, episode_start=None, deterministic=True, action_masks=None):
        return np.asarray(self.act(obs, action_masks)), state


def episode_returns(
    env: str | EnvFactory, policy: Any, n_episodes: int, *, seed: int = 0, deterministic: bool = True
) -> np.ndarray:
    """True returns of exactly ``n_episodes`` full episodes (SB3's ``evaluate_policy``).

    ``policy`` is an SB3 model, a GAIL trainer, a batched callable, or ``"random"``.
    Envs with ``action_masks()`` are evaluated with sb3-contrib's masked evaluator, so
    the policy is given the legal actions at every step.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    factory = as_factory(env)
    venv = factory.make_vec(min(n_episodes, 16), seed=seed)
    model = _Predictor(policy, venv.action_space, seed, deterministic)
    try:
        if supports_action_masks(factory.make()):
            from sb3_contrib.common.maskable.evaluation import evaluate_policy as masked_evaluate

            returns, _ = masked_evaluate(
                model, venv, n_eval_episodes=n_episodes, deterministic=deterministic, return_episode_rewards=True
            )
        else:
            returns, _ = evaluate_policy(
                model, venv, n_eval_episodes=n_episodes, deterministic=deterministic, return_episode_rewards=True
            )
    finally:
        venv.close()
    return np.asarray(returns, dtype=np.float64)


def normalized_return(value: float, expert: float, random: float) -> float:
    """(R - R_random) / (R_expert - R_random): 0 is random, 1 is the expert."""
    span = expert - random
    return float((value - random) / span) if abs(span) > 1e-8 else float("nan")


def compare(
    env_id: str | EnvFactory,
    policies: dict[str, Any],
    *,
    expert: Any | None,
    n_episodes: int = 50,
    seed: int = 0,
    deterministic: bool = True,
    random: bool = True,
) -> list[EvalResult]:
    """Evaluate ``policies`` and the references: the expert (None: no expert row, e.g. when
    training one would take minutes) and a uniform-random policy (``random=False``: none).
    Normalised returns are filled in when both references were played."""
    raw = {name: episode_returns(env_id, pol, n_episodes, seed=seed, deterministic=deterministic)
           for name, pol in policies.items()}  # fmt: skip
    if expert is not None:
        raw["expert"] = episode_returns(env_id, expert, n_episodes, seed=seed, deterministic=deterministic)
    if random:
        raw["random"] = episode_returns(env_id, "random", n_episodes, seed=seed)
    both = "expert" in raw and "random" in raw
    e, r = (float(raw["expert"].mean()), float(raw["random"].mean())) if both else (0.0, 0.0)
    return [
        EvalResult(
            n,
            float(v.mean()),
            float(v.std()),
            len(v),
            normalized_return(float(v.mean()), e, r) if both else None,
        )
        for n, v in raw.items()
    ]


def render_table(env_id: str, results: list[EvalResult]) -> str:
    """A rich table as text (also fine when stdout is not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{env_id}: true return over {results[0].n_episodes} episodes")
    for col in ("policy", "mean", "std", "normalised"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for r in results:
        norm = "" if r.normalized is None else f"{r.normalized:.3f}"
        table.add_row(r.name, f"{r.mean:.1f}", f"{r.std:.1f}", norm)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def results_json(env_id: str, results: list[EvalResult]) -> str:
    return json.dumps({"env": env_id, "results": [asdict(r) for r in results]})
