"""Evaluate policies on the true env reward and report them beside expert and random."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.env_util import make_vec_env

from genplay.envs import check_env_id
from genplay.gail.demos import PolicyFn, as_policy_fn, random_policy


@dataclass(frozen=True)
class EvalResult:
    """Returns of one policy over ``n_episodes`` on the true reward."""

    name: str
    mean: float
    std: float
    n_episodes: int
    normalized: float | None = None


def episode_returns(
    env_id: str, policy: Any, n_episodes: int, *, seed: int = 0, deterministic: bool = True
) -> np.ndarray:
    """True returns of exactly ``n_episodes`` episodes (one env each, policy batched).

    ``policy`` is an SB3 model, a GAIL trainer, a batched callable, or ``"random"``.
    """
    check_env_id(env_id)
    n_envs = min(n_episodes, 16)
    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed)
    if isinstance(policy, str) and policy == "random":
        act: PolicyFn = random_policy(venv.action_space, seed)
    else:
        act = as_policy_fn(policy, deterministic=deterministic)
    # Each env slot runs a fixed quota of episodes, so short episodes are not over-counted.
    quota = np.full(n_envs, n_episodes // n_envs) + (np.arange(n_envs) < n_episodes % n_envs)
    done_count = np.zeros(n_envs, dtype=int)
    running = np.zeros(n_envs)
    returns: list[float] = []
    obs = venv.reset()
    while (done_count < quota).any():
        obs, rewards, dones, _ = venv.step(np.asarray(act(obs)))
        running += rewards
        for i in np.flatnonzero(dones):
            if done_count[i] < quota[i]:
                returns.append(float(running[i]))
                done_count[i] += 1
            running[i] = 0.0
    venv.close()
    return np.asarray(returns)


def normalized_return(value: float, expert: float, random: float) -> float:
    """(R - R_random) / (R_expert - R_random): 0 is random, 1 is the expert."""
    span = expert - random
    return float((value - random) / span) if abs(span) > 1e-8 else float("nan")


def compare(
    env_id: str,
    policies: dict[str, Any],
    *,
    expert: Any,
    n_episodes: int = 50,
    seed: int = 0,
    deterministic: bool = True,
) -> list[EvalResult]:
    """Evaluate ``policies`` and the expert and random references; normalised returns filled in."""
    raw = {"expert": episode_returns(env_id, expert, n_episodes, seed=seed, deterministic=deterministic)}
    raw["random"] = episode_returns(env_id, "random", n_episodes, seed=seed)
    for name, pol in policies.items():
        raw[name] = episode_returns(env_id, pol, n_episodes, seed=seed, deterministic=deterministic)
    e, r = float(raw["expert"].mean()), float(raw["random"].mean())
    order = [*policies, "expert", "random"]
    return [
        EvalResult(
            n, float(raw[n].mean()), float(raw[n].std()), len(raw[n]), normalized_return(float(raw[n].mean()), e, r)
        )
        for n in order
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
