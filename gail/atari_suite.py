"""``genplay evaluate --suite atari``: several policies on several Atari games, full games, raw scores.

Every (game, policy, seed) plays ``episodes`` full games as evaluation plays them
(:attr:`AtariConfig.evaluation`: sticky actions, no-op starts, no life-loss ends, raw
rewards, ALE's 108k-frame cap). Policies come in four kinds:

* ``learned`` / ``bc``: a ``genplay gail train`` output dir or an SB3 zip, loaded without
  unpickling (``pipeline.load_policy``); a PPO CnnPolicy takes the uint8 ``(4, 84, 84)``
  stacks as they come. ``{game}`` in the path is replaced by each game's id.
* ``random``: uniform-random actions. These and the learned kinds play on ale-py's native
  vector env (``EnvFactory.make_vec``), several games at once.
* ``expert``: the scripted RAM expert of ``genplay.envs.atari_experts``, on one env at a
  time (it reads the emulator RAM, which the vector env does not expose).

Scores are human-normalised against the published references (``gail/scores.py``) and
summarised by the IQM over all games' runs with a stratified-bootstrap 95% interval; a run
is one episode (for a fixed policy, seeds only seed the env, so every episode is an
independent draw). Results go to ``results.json``, ``results.md`` and ``scores.png``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genplay.errors import GenplayError
from genplay.gail.scores import ATARI_REFERENCE, REFERENCE_SOURCE, human_normalized, stratified_bootstrap_ci

POLICY_KINDS = ("learned", "bc", "expert", "random")
FILE_KINDS = ("learned", "bc")
SEED_STRIDE = 100_000
"""Seed ``s`` plays envs seeded ``s * SEED_STRIDE + i``: two seeds never share an episode start."""
MAX_SEED = 9_999
MAX_EPISODES = SEED_STRIDE
MAX_VEC_ENVS = 16


@dataclass(frozen=True)
class PolicySpec:
    """One ``--policy``: ``random``, ``expert``, ``KIND=PATH`` or ``KIND:LABEL=PATH`` (KIND learned or bc)."""

    kind: str
    path: str | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.kind

    @staticmethod
    def parse(text: str) -> PolicySpec:
        head, sep, path = text.partition("=")
        kind, _, label = head.partition(":")
        kind, label = kind.strip(), label.strip() or None
        if kind not in POLICY_KINDS:
            raise GenplayError(
                f"--policy {text}: unknown policy kind {kind!r}; expected learned=PATH, bc=PATH, expert or random"
            )
        if kind in FILE_KINDS and not (sep and path.strip()):
            raise GenplayError(f"--policy {text}: a {kind} policy needs its file: {kind}=PATH (a run dir or zip)")
        if kind not in FILE_KINDS and sep:
            raise GenplayError(f"--policy {text}: the {kind} policy takes no file")
        return PolicySpec(kind, path.strip() if sep else None, label)

    def path_for(self, game: str) -> Path:
        """The policy file for ``game`` (``{game}`` in the path becomes the game's id)."""
        assert self.path is not None
        return Path(self.path.replace("{game}", game))


@dataclass(frozen=True)
class SuiteConfig:
    """What the suite plays: games (ALE ids), policies, episodes per (game, policy, seed), seeds."""

    games: tuple[str, ...]
    policies: tuple[PolicySpec, ...]
    episodes: int = 10
    seeds: tuple[int, ...] = (0,)
    deterministic: bool = True
    """Learned policies take their most likely action (False: sample)."""
    max_steps: int | None = None
    """Tests only: end each episode after this many agent steps (a partial game, no longer a raw score)."""
    bootstrap_reps: int = 2000

    def __post_init__(self) -> None:
        from genplay.envs.atari import game_name

        if not self.games:
            raise GenplayError("--games: give at least one game, e.g. --games pong,breakout")
        games = []
        for g in self.games:
            try:
                games.append(game_name(g))
            except GenplayError as exc:
                raise GenplayError(f"--games: {exc}") from None
            if games[-1] not in ATARI_REFERENCE:
                raise GenplayError(f"--games: {g!r} has no published human/random reference scores (not in Atari-57)")
        if len(set(games)) != len(games):
            raise GenplayError(f"--games: a game is listed twice in {', '.join(self.games)}")
        object.__setattr__(self, "games", tuple(games))
        if not self.policies:
            raise GenplayError("--policy: give at least one, e.g. --policy random")
        names = [p.name for p in self.policies]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise GenplayError(f"--policy: two policies named {twice[0]!r}; label them, e.g. learned:a=PATH")
        if not _int_in(self.episodes, 1, MAX_EPISODES):
            raise GenplayError(f"--episodes: expected an integer in [1, {MAX_EPISODES}], got {self.episodes!r}")
        if not self.seeds or not all(_int_in(s, 0, MAX_SEED) for s in self.seeds):
            raise GenplayError(f"--seeds: expected integers in [0, {MAX_SEED}], got {list(self.seeds)!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise GenplayError(f"--seeds: a seed is listed twice in {list(self.seeds)}")
        if self.max_steps is not None and not _int_in(self.max_steps, 1, None):
            raise GenplayError(f"--max-steps: expected an integer >= 1, got {self.max_steps!r}")


def _int_in(value: Any, low: int, high: int | None) -> bool:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    return ok and (high is None or value <= high)


def evaluation_options(game: str) -> dict[str, Any]:
    """``make_atari`` / ``EnvFactory`` options of ``game`` as evaluation plays it (full games, raw scores)."""
    from genplay.envs.atari import AtariConfig

    options = dataclasses.asdict(AtariConfig(game).evaluation)
    options.pop("game")
    return options


# ---------------------------------------------------------------------------- policies


def load_policies(config: SuiteConfig) -> dict[tuple[str, str], Any]:
    """Every (policy name, game) -> what plays it, checked before any game is played.

    File policies become batched callables; ``random`` stays ``"random"``; ``expert`` is
    the expert's factory. Bad files and games without an expert fail here, naming --policy.
    """
    from genplay.envs.atari import atari_id
    from genplay.gail.pipeline import load_policy

    out: dict[tuple[str, str], Any] = {}
    for spec in config.policies:
        for game in config.games:
            if spec.kind == "random":
                out[spec.name, game] = "random"
            elif spec.kind == "expert":
                out[spec.name, game] = expert_factory(game)
            else:
                path = spec.path_for(game)
                if not path.exists():
                    raise GenplayError(f"--policy {spec.kind}={spec.path}: {path}: no such file or directory")
                try:
                    out[spec.name, game] = load_policy(path, deterministic=config.deterministic, env_id=atari_id(game))
                except GenplayError as exc:
                    raise GenplayError(f"--policy {spec.kind}={spec.path}: {exc}") from None
    return out


def expert_factory(game: str):
    """The scripted RAM expert factory of ``game`` (``genplay.envs.atari_experts``, imported when needed)."""
    try:
        from genplay.envs.atari_experts import ATARI_EXPERTS
    except ImportError:
        raise GenplayError("--policy expert: the scripted Atari experts are not installed") from None
    if game not in ATARI_EXPERTS:
        have = ", ".join(sorted(ATARI_EXPERTS))
        raise GenplayError(f"--policy expert: no scripted expert for {game}; there are experts for {have}")
    return ATARI_EXPERTS[game]


# ---------------------------------------------------------------------------- playing


def vec_episode_scores(venv, act, n_episodes: int, *, max_steps: int | None = None) -> np.ndarray:
    """Raw scores of ``n_episodes`` episodes on an SB3 vec env, in the order they were assigned.

    Env ``i`` plays ``(n_episodes + i) // n_envs`` episodes and its later ones are ignored,
    as SB3's ``evaluate_policy`` does, so short episodes are not over-represented. With
    ``max_steps``, every env must play exactly one episode (it is cut, not reset).
    """
    n_envs = venv.num_envs
    if max_steps is not None and n_envs != n_episodes:
        raise ValueError("with max_steps, give one env per episode")
    targets = np.array([(n_episodes + i) // n_envs for i in range(n_envs)])
    scores: list[list[float]] = [[] for _ in range(n_envs)]
    running, steps = np.zeros(n_envs), np.zeros(n_envs, dtype=np.int64)
    obs = venv.reset()
    while any(len(s) < t for s, t in zip(scores, targets)):
        obs, rewards, dones, _ = venv.step(np.asarray(act(obs)))
        running += rewards
        steps += 1
        cut = dones | (steps >= max_steps) if max_steps is not None else dones
        for i in np.flatnonzero(cut):
            if len(scores[i]) < targets[i]:
                scores[i].append(float(running[i]))
            running[i], steps[i] = 0.0, 0
    return np.asarray([s for env_scores in scores for s in env_scores], dtype=np.float64)


def play_vec(game: str, policy: Any, config: SuiteConfig, seed: int) -> np.ndarray:
    """Scores of one (game, file or random policy, seed) on the native vector env."""
    from genplay.envs import EnvFactory
    from genplay.envs.atari import atari_id
    from genplay.gail.demos import random_policy

    n_envs = config.episodes if config.max_steps is not None else min(config.episodes, MAX_VEC_ENVS)
    venv = EnvFactory(atari_id(game), evaluation_options(game)).make_vec(n_envs, seed=seed * SEED_STRIDE)
    try:
        act = random_policy(venv.action_space, seed) if isinstance(policy, str) else policy
        return vec_episode_scores(venv, act, config.episodes, max_steps=config.max_steps)
    finally:
        venv.close()


def play_expert(game: str, factory, config: SuiteConfig, seed: int) -> tuple[np.ndarray, int]:
    """Scores of the scripted expert on ``game``, one episode after another; and how many stalled."""
    from genplay.envs.atari import make_atari
    from genplay.envs.atari_experts import play_game

    env = make_atari(game, record_ram=True, **evaluation_options(game))
    expert = factory(np.random.default_rng(seed))
    scores, stalled = [], 0
    try:
        for e in range(config.episodes):
            result = play_game(env, expert, seed=seed * SEED_STRIDE + e, max_steps=config.max_steps)
            scores.append(float(result.score))
            stalled += bool(result.stalled)
    finally:
        env.close()
    return np.asarray(scores, dtype=np.float64), stalled


# ---------------------------------------------------------------------------- results


@dataclass
class SuiteResult:
    """Raw scores per (policy, game): ``(n_seeds, episodes)`` arrays; summaries computed from them."""

    config: SuiteConfig
    scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    stalled: dict[str, dict[str, int]] = field(default_factory=dict)

    def aggregate(self, policy: str) -> dict[str, float]:
        """IQM of the human-normalised scores over all games' episodes, its 95% CI, and the mean and median HNS."""
        hns = {g: human_normalized(g, s.ravel()) for g, s in self.scores[policy].items()}
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
            policies[spec.name] = {"kind": spec.kind, "path": spec.path, "games": games,
                                   "human_normalized": self.aggregate(spec.name)}  # fmt: skip
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
                s = self.scores[n][g]
                cells.append(f"{s.mean():.1f} ± {s.std():.1f} ({np.mean(human_normalized(g, s)):.3f})")
            lines.append(f"| {g} | {r} | {h} | " + " | ".join(cells) + " |")
        aggs = [self.aggregate(n) for n in names]
        lines.append(
            "| **IQM HNS [95% CI]** | | | "
            + " | ".join(f"**{a['iqm']:.3f}** [{a['iqm_ci_low']:.3f}, {a['iqm_ci_high']:.3f}]" for a in aggs)
            + " |"
        )
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
            hns = [np.mean(human_normalized(g, self.scores[n][g])) for g in c.games]
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


def run_suite(config: SuiteConfig, *, progress: bool = True) -> SuiteResult:
    """Play every (game, policy, seed); a progress bar over games (tqdm, on stderr)."""
    from tqdm import tqdm

    players = load_policies(config)
    result = SuiteResult(config, {p.name: {} for p in config.policies}, {p.name: {} for p in config.policies})
    bar = tqdm(config.games, desc="atari suite", unit="game", disable=not progress)
    for game in bar:
        for spec in config.policies:
            bar.set_postfix_str(f"{game}: {spec.name}")
            rows, stalled = [], 0
            for seed in config.seeds:
                if spec.kind == "expert":
                    scores, k = play_expert(game, players[spec.name, game], config, seed)
                    stalled += k
                else:
                    scores = play_vec(game, players[spec.name, game], config, seed)
                rows.append(scores)
            result.scores[spec.name][game] = np.stack(rows)
            if spec.kind == "expert":
                result.stalled[spec.name][game] = stalled
    return result
