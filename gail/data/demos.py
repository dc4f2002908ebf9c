"""Demonstrations: the on-disk format and its validated loading (collection: ``gail/data/collect.py``).

A demos file is an ``.npz`` (no pickles) with these fields:

=================  =====================================================================
``format_version`` int, currently 1
``metadata``       JSON text: ``env_id``, ``observation_space``, ``action_space`` (see
                   :func:`describe_space`), and free-form provenance (policy, seed, ...)
``obs``            ``(sum(T_i + 1), *obs_shape)``: every episode's observations *including*
                   its final one, so next observations need no guessing. Dict observation
                   spaces store one array per key as ``obs.<key>``. Frame stacks
                   (uint8 ``(stack, H, W)``, e.g. Atari) store each distinct frame once
                   instead: ``obs_frames`` ``(F, H, W)`` and ``obs_frame_index``
                   ``(sum(T_i + 1), stack)`` int32 (the frames of each observation).
``acts``           ``(sum(T_i), *act_shape)``: actions as the env received them
``rewards``        ``(sum(T_i),)`` float32: the env's reward (for reporting only)
``episode_lengths````(N,)`` int64: T_i
``terminated``     ``(N,)`` bool: the episode ended by termination (True) or truncation
                   (time limit, False). GAIL's absorbing states need this distinction.
``action_masks``   optional ``(sum(T_i), n_actions)`` bool: the legal actions at each step,
                   for envs with an ``action_masks()`` method (board games); every
                   recorded action must be legal under its mask.
``scores``         optional ``(sum(T_i),)`` float32: a realism score per transition (the
                   discriminator's probability that it is expert; ``genplay synth``)
=================  =====================================================================

``metadata.env`` holds the env factory (id, kwargs, wrappers) the demos were recorded
on, so training and evaluation rebuild the same env.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from genplay.envs import EnvFactory, as_factory
from genplay.errors import DemoError, EnvError
from genplay.gail.data.spaces import describe_space, malformed_space, space_mismatch
from genplay.gail.data.store import StackedFrames
from genplay.generative.core import atomic_write

FORMAT_VERSION = 1
_ARRAY_FIELDS = ("acts", "rewards", "episode_lengths", "terminated")


@dataclass(frozen=True)
class Demos:
    """Validated expert trajectories. Build with :func:`collect_demos` or :func:`load_demos`."""

    obs: np.ndarray | dict[str, np.ndarray] | StackedFrames
    acts: np.ndarray
    rewards: np.ndarray
    episode_lengths: np.ndarray
    terminated: np.ndarray
    env_id: str
    observation_space: dict[str, Any]
    action_space: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    action_masks: np.ndarray | None = None
    env: EnvFactory | None = None
    """The env factory the demos were recorded on (None: plain ``env_id``)."""
    scores: np.ndarray | None = None
    """Per-transition realism scores in [0, 1] (synthetic data, :mod:`genplay.gail.data.synth`), else None."""

    @property
    def env_factory(self) -> EnvFactory:
        return self.env if self.env is not None else EnvFactory(self.env_id)

    @property
    def n_episodes(self) -> int:
        return len(self.episode_lengths)

    @property
    def n_transitions(self) -> int:
        return int(self.episode_lengths.sum())

    def episode_returns(self) -> np.ndarray:
        ends = np.cumsum(self.episode_lengths)
        return np.add.reduceat(self.rewards, ends - self.episode_lengths) if self.n_episodes else np.zeros(0)

    def transition_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Row indices into ``obs`` of each transition's observation and next observation."""
        offsets = np.repeat(np.arange(self.n_episodes), self.episode_lengths)  # one extra obs per episode
        idx = np.arange(self.n_transitions) + offsets
        return idx, idx + 1

    def transitions(self) -> dict[str, Any]:
        """Flat arrays ``obs, acts, next_obs, terminal`` (terminal: last step of a terminated episode)."""
        i, j = self.transition_indices()
        terminal = np.zeros(self.n_transitions, dtype=bool)
        terminal[np.cumsum(self.episode_lengths)[self.terminated] - 1] = True
        return {"obs": _take(self.obs, i), "acts": self.acts, "next_obs": _take(self.obs, j), "terminal": terminal}

    def subsample(self, every: int, offset_seed: int = 0) -> Demos:
        """Every ``every``-th transition of each episode from a random offset (Ho & Ermon 2016, sec. 6).

        Consecutive expert steps are nearly copies of each other; keeping one in ``every``
        leaves BC few, spread-out pairs while GAIL still rolls the env out itself. Each kept
        transition becomes a one-step episode ``(s_t, s_t+1)``, so next observations stay
        exact; it is terminated only if it ended a terminated episode, so the expert's
        terminations per live transition, and with them the absorbing state's share
        (``gail/rewards/reward.py``), are those of the full demos in expectation. Each episode keeps
        at least one step (its offset is drawn below its length); ``metadata.subsample``
        records where each kept step came from (episode, step) and the source's size and return.
        """
        if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
            raise DemoError(f"subsample: 'every' must be an integer >= 1, got {every!r}")
        rng = np.random.default_rng(offset_seed)
        starts = np.cumsum(self.episode_lengths) - self.episode_lengths
        steps, source = [], []
        for e, (start, length) in enumerate(zip(starts.tolist(), self.episode_lengths.tolist(), strict=True)):
            t = np.arange(int(rng.integers(min(every, length))), length, every)
            steps.append(start + t)
            source.append(np.full(len(t), e))
        step = np.concatenate(steps)
        episode = np.concatenate(source)
        obs_row = step + episode  # each episode holds one extra observation before the next one starts
        rows = np.stack([obs_row, obs_row + 1], axis=1).ravel()
        terminal = self.terminated[episode] & (step == (starts + self.episode_lengths - 1)[episode])
        meta = dict(self.metadata)
        meta["subsample"] = {
            "every": int(every),
            "offset_seed": int(offset_seed),
            "source_episodes": self.n_episodes,
            "source_transitions": self.n_transitions,
            "source_return_mean": float(self.episode_returns().mean()),
            "source_episode": episode.tolist(),
            "source_step": (step - starts[episode]).tolist(),
        }
        return dataclasses.replace(
            self,
            obs=_take_compact(self.obs, rows),
            acts=self.acts[step],
            rewards=self.rewards[step],
            episode_lengths=np.ones(len(step), dtype=np.int64),
            terminated=terminal,
            action_masks=None if self.action_masks is None else self.action_masks[step],
            scores=None if self.scores is None else self.scores[step],
            metadata=meta,
        )


def _take_compact(obs, rows: np.ndarray):
    """Observation ``rows`` as a new array; frame stacks keep only the frames those rows use."""
    if isinstance(obs, StackedFrames):
        used, index = np.unique(obs.index[rows], return_inverse=True)
        return StackedFrames(obs.frames[used], index.reshape(len(rows), -1).astype(np.int32))
    return {k: v[rows] for k, v in obs.items()} if isinstance(obs, dict) else obs[rows]


def _take(obs, idx: np.ndarray):
    if isinstance(obs, StackedFrames):
        return obs.subset(idx)  # lazy: 20 Atari games are 7 GB as stacks
    return {k: v[idx] for k, v in obs.items()} if isinstance(obs, dict) else obs[idx]


# ---------------------------------------------------------------------------- saving


def save_demos(path: str | Path, demos: Demos) -> None:
    """Write ``demos`` to ``path`` (.npz) atomically."""
    meta = dict(demos.metadata)
    meta.update(env_id=demos.env_id, observation_space=demos.observation_space, action_space=demos.action_space)
    if demos.env is not None:
        meta["env"] = demos.env.to_dict()
    arrays: dict[str, np.ndarray] = {
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        "metadata": np.asarray(json.dumps(meta)),
        "acts": demos.acts,
        "rewards": demos.rewards,
        "episode_lengths": demos.episode_lengths,
        "terminated": demos.terminated,
    }
    if demos.action_masks is not None:
        arrays["action_masks"] = demos.action_masks
    if demos.scores is not None:
        arrays["scores"] = np.asarray(demos.scores, dtype=np.float32)
    if isinstance(demos.obs, dict):
        arrays.update({f"obs.{k}": v for k, v in demos.obs.items()})
    elif isinstance(demos.obs, StackedFrames):
        arrays.update(obs_frames=demos.obs.frames, obs_frame_index=demos.obs.index)
    else:
        arrays["obs"] = demos.obs

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(path, write)


# ---------------------------------------------------------------------------- loading


def load_demos(path: str | Path, env_id: str | None = None, *, other_env: bool = False) -> Demos:
    """Read and validate a demos file; with ``env_id``, also check it matches that env: the
    spaces, and the recorded env id unless ``other_env`` (CartPole-v0's demos fit CartPole-v1's
    spaces, Pong's fit Space Invaders': only the id says they are another task).

    Every problem raises :class:`DemoError` with one line naming the file, the field and
    what was expected.
    """
    path = Path(path)
    name = str(path)

    def fail(what: str) -> DemoError:
        return DemoError(f"{name}: {what}")

    if not path.is_file():
        raise fail("no such file")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise fail("is a single .npy array, expected an .npz demos file with named fields")
    if magic[:4] != b"PK\x03\x04":  # numpy would try to unpickle it (and refuse with advice to trust it)
        raise fail("not an .npz demos file (it is not a zip archive); expected a file written by genplay demos collect")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise fail("is a single .npy array, expected an .npz demos file with named fields")
        with loaded as npz:
            raw = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # an object array: pickled data, never loaded
            raise fail("holds a pickled (object) array; genplay never unpickles demos files") from None
        raise fail(f"not a readable .npz demos file (truncated or corrupt: {exc})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise fail(f"not a readable .npz demos file (truncated or corrupt: {exc})") from None
    demos = demos_from_arrays(raw, source=name, env_id=env_id)
    if env_id is not None and demos.env_id != env_id and not other_env:
        raise fail(f"field 'metadata.env_id' is {demos.env_id!r}, not {env_id!r}; pass --force to use them anyway")
    return demos


MAX_METADATA_CHARS = 1 << 20
"""A demos file's metadata (spaces, env, provenance) is JSON of at most this many characters."""


def demos_from_arrays(raw: dict[str, np.ndarray], *, source: str, env_id: str | None = None) -> Demos:
    """Validated demos from the fields of the file format (what :func:`load_demos` read, or an import)."""
    name = source

    def fail(what: str) -> DemoError:
        return DemoError(f"{name}: {what}")

    for key in ("format_version", "metadata", *_ARRAY_FIELDS):
        if key not in raw:
            raise fail(f"missing field {key!r}")
    version = raw["format_version"]
    if version.shape != () or not np.issubdtype(version.dtype, np.integer):
        raise fail(f"field 'format_version' must be an integer scalar, got {version.dtype} {version.shape}")
    if int(version) != FORMAT_VERSION:
        raise fail(f"field 'format_version' is {int(version)}, this genplay reads version {FORMAT_VERSION}")
    text = str(raw["metadata"])
    if len(text) > MAX_METADATA_CHARS:
        raise fail(f"field 'metadata' is {len(text)} characters; expected at most {MAX_METADATA_CHARS}")
    try:
        meta = json.loads(text)
        assert isinstance(meta, dict)
    except (json.JSONDecodeError, AssertionError, RecursionError):  # RecursionError: crafted deep nesting
        raise fail("field 'metadata' is not a JSON object") from None
    for key in ("env_id", "observation_space", "action_space"):
        if key not in meta:
            raise fail(f"field 'metadata' has no {key!r}")

    obs_desc, act_desc = meta["observation_space"], meta["action_space"]
    for key, desc in (("observation_space", obs_desc), ("action_space", act_desc)):
        why = malformed_space(desc)
        if why:
            raise fail(f"field 'metadata.{key}' is malformed: {why}")
    if obs_desc.get("type") == "Dict":
        keys = sorted(obs_desc.get("spaces", {}))
        missing = [k for k in keys if f"obs.{k}" not in raw]
        if missing:
            raise fail(f"missing field 'obs.{missing[0]}' for the Dict observation space")
        obs: np.ndarray | dict[str, np.ndarray] | StackedFrames = {k: raw[f"obs.{k}"] for k in keys}
    elif "obs_frames" in raw or "obs_frame_index" in raw:
        if "obs_frames" not in raw or "obs_frame_index" not in raw:
            raise fail("fields 'obs_frames' and 'obs_frame_index' come together; one is missing")
        if "obs" in raw:
            raise fail("holds both 'obs' and 'obs_frames': expected one way of storing observations")
        obs = StackedFrames(raw["obs_frames"], raw["obs_frame_index"])
    elif "obs" not in raw:
        raise fail("missing field 'obs'")
    else:
        obs = raw["obs"]

    lengths, terminated = raw["episode_lengths"], raw["terminated"]
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer) or (lengths < 1).any():
        raise fail(
            f"field 'episode_lengths' must be a 1-D array of positive integers, got {lengths.dtype} {lengths.shape}"
        )
    if len(lengths) == 0:
        raise fail("field 'episode_lengths' is empty: the file holds no episode")
    if terminated.shape != lengths.shape or terminated.dtype != np.bool_:
        raise fail(
            f"field 'terminated' must be bool of shape {lengths.shape}, got {terminated.dtype} {terminated.shape}"
        )
    n_trans = int(lengths.sum())
    n_obs = n_trans + len(lengths)

    _check_array(fail, "acts", raw["acts"], n_trans, act_desc)
    rewards = raw["rewards"]
    if rewards.shape != (n_trans,) or not np.issubdtype(rewards.dtype, np.floating):
        raise fail(f"field 'rewards' must be float of shape ({n_trans},), got {rewards.dtype} {rewards.shape}")
    if not np.isfinite(rewards).all():
        raise fail("field 'rewards' contains NaN or inf")
    if isinstance(obs, dict):
        for k, v in obs.items():
            _check_array(fail, f"obs.{k}", v, n_obs, obs_desc["spaces"][k])
    elif isinstance(obs, StackedFrames):
        shape = tuple(obs_desc.get("shape", []))
        why = obs.validate(n_obs, shape) if len(shape) == 3 else "frame fields need a (stack, H, W) observation space"
        if why:
            raise fail(f"field {why}")
    else:
        _check_array(fail, "obs", obs, n_obs, obs_desc)

    masks = raw.get("action_masks")
    if masks is not None:
        n_act = act_desc.get("n")
        if act_desc.get("type") != "Discrete" or masks.dtype != np.bool_ or masks.shape != (n_trans, n_act):
            raise fail(f"field 'action_masks' must be bool of shape ({n_trans}, n_actions) for a Discrete action space")
        illegal = ~masks[np.arange(n_trans), raw["acts"].astype(np.int64) - int(act_desc["start"])]
        if illegal.any():
            raise fail(f"field 'action_masks' row {int(np.argmax(illegal))} forbids the recorded action")
    scores = raw.get("scores")
    if scores is not None:
        if scores.shape != (n_trans,) or not np.issubdtype(scores.dtype, np.floating):
            raise fail(f"field 'scores' must be float of shape ({n_trans},), got {scores.dtype} {scores.shape}")
        if not np.isfinite(scores).all():
            raise fail("field 'scores' contains NaN or inf")
    factory = None
    if "env" in meta:
        try:
            factory = EnvFactory.from_dict(meta["env"], source=name)
        except EnvError as exc:
            raise fail(f"field 'metadata.env' is not usable ({exc})") from None
        if factory.env_id != meta["env_id"]:
            raise fail(f"field 'metadata.env' names {factory.env_id!r} but 'metadata.env_id' is {meta['env_id']!r}")
    demos = Demos(
        obs=obs,
        acts=raw["acts"],
        action_masks=masks,
        env=factory,
        scores=None if scores is None else scores.astype(np.float32),
        rewards=rewards.astype(np.float32),
        episode_lengths=lengths.astype(np.int64),
        terminated=terminated,
        env_id=str(meta["env_id"]),
        observation_space=obs_desc,
        action_space=act_desc,
        metadata={k: v for k, v in meta.items() if k not in ("env_id", "env", "observation_space", "action_space")},
    )
    if env_id is not None:
        check_demos_match_env(demos, env_id, source=name)
    return demos


def _check_array(fail, field_name: str, arr: np.ndarray, n_rows: int, desc: dict[str, Any]) -> None:
    shape = (n_rows, *desc.get("shape", []))
    if arr.shape != shape:
        raise fail(f"field {field_name!r} has shape {arr.shape}, expected {shape}")
    kind = desc.get("type")
    if kind == "Box":
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise fail(f"field {field_name!r} has dtype {arr.dtype}, expected {desc['dtype']}")
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise fail(f"field {field_name!r} contains NaN or inf")
    elif kind in ("Discrete", "MultiDiscrete", "MultiBinary"):
        if not np.issubdtype(arr.dtype, np.integer):
            raise fail(f"field {field_name!r} has dtype {arr.dtype}, expected integers for a {kind} space")
        if kind == "Discrete":
            lo, hi = desc["start"], desc["start"] + desc["n"]
            bad = (arr < lo) | (arr >= hi)
            if bad.any():
                raise fail(
                    f"field {field_name!r} row {int(np.argmax(bad))} holds {arr[bad][0]}, expected in [{lo}, {hi})"
                )


def check_demos_match_env(demos: Demos, env: str | EnvFactory, *, source: str = "demos") -> None:
    """Raise DemoError unless the demos' spaces equal those of ``env`` (an id or a factory)."""
    factory = as_factory(env)
    made = factory.make()
    try:
        check_demos_match_spaces(
            demos, made.observation_space, made.action_space, target=f"env {factory.env_id}", source=source
        )
    finally:
        made.close()


def check_demos_match_spaces(
    demos: Demos,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    *,
    target: str = "the env",
    source: str = "demos",
) -> None:
    """Raise DemoError unless the demos' spaces equal the given ones."""
    for field_name, saved, space in (
        ("observation_space", demos.observation_space, observation_space),
        ("action_space", demos.action_space, action_space),
    ):
        why = space_mismatch(saved, describe_space(space))
        if why:
            raise DemoError(
                f"{source}: field 'metadata.{field_name}' (recorded on {demos.env_id}) is {why} for {target}"
            )
