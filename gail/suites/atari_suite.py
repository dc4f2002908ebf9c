"""``genplay evaluate --suite atari``: several policies on several Atari games, full games, raw scores.

Every (game, policy, seed) plays ``episodes`` full games as evaluation plays them
(:attr:`AtariConfig.evaluation`: sticky actions, no-op starts, no life-loss ends, raw
rewards, ALE's 108k-frame cap). Policies come in four kinds:

* ``learned`` / ``bc``: a ``genplay gail train`` output dir or an SB3 zip, loaded without
  unpickling (``pipeline.load_policy``); a PPO CnnPolicy takes the uint8 ``(4, 84, 84)``
  stacks as they come. ``{game}`` in the path is replaced by each game's id.
* ``random``: uniform-random actions. These and the learned kinds play on ale-py's native
  vector env (``EnvFactory.make_vec``), several games at once.
* ``expert``: the scripted (imitable) expert of ``genplay.envs.atari_experts``, on one env at a
  time (it reads the emulator RAM, which the vector env does not expose).

Scores are human-normalised against the published references (``gail/evaluation/scores.py``) and
summarised by the IQM over all games' runs with a stratified-bootstrap 95% interval; a run
is one episode (for a fixed policy, seeds only seed the env, so every episode is an
independent draw). Results go to ``results.json``, ``results.md`` and ``scores.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genplay.envs.atari import evaluation_options
from genplay.errors import GenplayError
from genplay.gail.evaluation.scores import ATARI_REFERENCE
from genplay.gail.suites.atari_results import SuiteResult
from genplay.settings import Int, check_fields, flag_label

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
        check_fields(self, {"episodes": Int(1, MAX_EPISODES), "bootstrap_reps": Int(1, 1_000_000)}, flag_label)
        if not self.seeds or not all(_int_in(s, 0, MAX_SEED) for s in self.seeds):
            raise GenplayError(f"--seeds: expected integers in [0, {MAX_SEED}], got {list(self.seeds)!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise GenplayError(f"--seeds: a seed is listed twice in {list(self.seeds)}")
        if self.max_steps is not None:
            Int(1).check("--max-steps", self.max_steps)


def _int_in(value: Any, low: int, high: int | None) -> bool:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    return ok and (high is None or value <= high)


# ---------------------------------------------------------------------------- policies


def load_policies(config: SuiteConfig) -> dict[tuple[str, str], Any]:
    """Every (policy name, game) -> what plays it, checked before any game is played.

    File policies become batched callables; ``random`` stays ``"random"``; ``expert`` is
    the expert's factory. Bad files and games without an expert fail here, naming --policy.
    """
    return {(spec.name, game): load_player(config, spec, game) for spec in config.policies for game in config.games}


def load_player(config: SuiteConfig, spec: PolicySpec, game: str) -> Any:
    """What plays ``spec`` on ``game`` (see :func:`load_policies`)."""
    from genplay.envs.atari import atari_id
    from genplay.gail.saving.run_files import load_policy

    if spec.kind == "random":
        return "random"
    if spec.kind == "expert":
        return expert_factory(game)
    path = spec.path_for(game)
    if not path.exists():
        raise GenplayError(f"--policy {spec.kind}={spec.path}: {path}: no such file or directory")
    try:
        return load_policy(path, deterministic=config.deterministic, env_id=atari_id(game))
    except GenplayError as exc:
        raise GenplayError(f"--policy {spec.kind}={spec.path}: {exc}") from None


def expert_factory(game: str):
    """The scripted expert factory of ``game`` (``genplay.envs.atari_experts``, imported when needed): its
    default, imitable kind, which acts on what the screen shows (``GAME-planner`` names the RAM planner)."""
    try:
        from genplay.envs.atari_experts import ATARI_EXPERTS
    except ImportError:
        raise GenplayError("--policy expert: the scripted Atari experts are not installed") from None
    if game not in ATARI_EXPERTS:
        have = ", ".join(sorted(name for name in ATARI_EXPERTS if "-" not in name))
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
    from genplay.gail.data.collect import random_policy

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


def play_job(config: SuiteConfig, game: str, spec: PolicySpec, seed: int, player: Any = None) -> tuple[np.ndarray, int]:
    """One (game, policy, seed): its episode scores and how many stalled (the expert; else 0).

    ``player`` is what :func:`load_policies` made; None (a Ray task) loads it here.
    """
    if player is None:
        player = load_player(config, spec, game)
    if spec.kind == "expert":
        return play_expert(game, player, config, seed)
    return play_vec(game, player, config, seed), 0


def run_suite(
    config: SuiteConfig, *, progress: bool = True, ray_address: str | None = None, max_retries: int = 2,
    gpus: float = 0.0,
) -> SuiteResult:  # fmt: skip
    """Play every (game, policy, seed), here in order or as Ray tasks; a progress bar over jobs (stderr).

    With Ray, each job loads its own policy and asks for one CPU (``gpus`` more for file
    policies); a job that fails after ``max_retries`` is listed in ``result.failed``.
    """
    from tqdm import tqdm

    from genplay.gail.suites.fanout import Job, failures, run_jobs

    players = load_policies(config)
    jobs = []
    for game in config.games:
        for spec in config.policies:
            for seed in config.seeds:
                kwargs: dict[str, Any] = {"config": config, "game": game, "spec": spec, "seed": seed}
                if ray_address is None:
                    kwargs["player"] = players[spec.name, game]
                gpu = gpus if spec.kind in FILE_KINDS else 0.0
                jobs.append(Job(f"{game}/{spec.name}/seed {seed}", kwargs, num_gpus=gpu))
    bar = tqdm(total=len(jobs), desc="atari suite", unit="job", disable=not progress)
    done = run_jobs(play_job, jobs, ray_address=ray_address, max_retries=max_retries,
                    on_done=lambda r: (bar.set_postfix_str(r.job.label), bar.update()))  # fmt: skip
    bar.close()
    result = SuiteResult(config, {p.name: {} for p in config.policies}, {p.name: {} for p in config.policies})
    result.failed = failures(done)
    for game in config.games:
        for spec in config.policies:
            ok = [r.value for r in done if r.ok and r.job.kwargs["game"] == game and r.job.kwargs["spec"] == spec]
            if ok:
                result.scores[spec.name][game] = np.stack([scores for scores, _ in ok])
            if spec.kind == "expert" and ok:
                result.stalled[spec.name][game] = sum(k for _, k in ok)
    return result
