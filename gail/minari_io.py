"""Demos to and from Minari datasets (``pip install 'genplay[synth]'``).

Export goes through Minari's own dataset-creation API (``minari.create_dataset_from_buffers``
with one ``EpisodeBuffer`` per episode), so what genplay writes is a Minari dataset by
construction; images are stored raw (``jpeg_encoding=False``: Minari's default JPEG is
lossy) and genplay's metadata (env factory, provenance) rides along as one JSON key,
per-transition realism scores as the step infos ``genplay_score``.

Import reads a dataset by id (Minari's local root) or by directory, never building an
env from the file: the spaces must be in its metadata (Minari writes them), the env id
comes from genplay's key or the stored env spec and must be one genplay knows, and the
arrays pass the same validation as a demos file.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from genplay.envs import EnvFactory
from genplay.errors import DemoError
from genplay.gail.collect import is_frame_stack
from genplay.gail.demos import FORMAT_VERSION, Demos, demos_from_arrays, describe_space
from genplay.gail.sb3_zip import space_from_description
from genplay.gail.store import StackedFrames

GENPLAY_KEY = "genplay"
SCORE_INFO = "genplay_score"


@contextlib.contextmanager
def _datasets_root(root: str | Path | None) -> Iterator[None]:
    """Minari reads its root from ``MINARI_DATASETS_PATH``; point it at ``root`` for the duration."""
    if root is None:
        yield
        return
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def _episode_slices(demos: Demos) -> Iterator[tuple[int, slice, slice]]:
    """Per episode: index, its observation rows (T + 1) and its transition rows (T)."""
    obs_end = step_end = 0
    for i, length in enumerate(demos.episode_lengths):
        length = int(length)
        yield i, slice(obs_end, obs_end + length + 1), slice(step_end, step_end + length)
        obs_end, step_end = obs_end + length + 1, step_end + length


def export_minari(
    demos: Demos, dataset_id: str, *, root: str | Path | None = None, description: str | None = None
) -> Path:
    """Write ``demos`` as Minari dataset ``dataset_id`` (under ``root``, default Minari's); returns its directory."""
    import minari
    from minari.data_collector import EpisodeBuffer

    obs_space = space_from_description(demos.observation_space)
    act_space = space_from_description(demos.action_space)
    buffers = []
    for i, obs_rows, steps in _episode_slices(demos):
        if isinstance(demos.obs, dict):
            obs: Any = {k: v[obs_rows] for k, v in demos.obs.items()}
        else:
            obs = demos.obs[np.arange(obs_rows.start, obs_rows.stop)]  # frame stacks: the (T+1, stack, H, W) uint8
        length = steps.stop - steps.start
        terminations = np.zeros(length, dtype=bool)
        truncations = np.zeros(length, dtype=bool)
        terminations[-1], truncations[-1] = bool(demos.terminated[i]), not bool(demos.terminated[i])
        infos = None
        if demos.scores is not None:  # infos hold T + 1 entries (reset, then each step)
            infos = {SCORE_INFO: np.concatenate([[np.nan], demos.scores[steps]]).astype(np.float32)}
        buffers.append(
            EpisodeBuffer(
                id=i,
                observations=obs,
                actions=demos.acts[steps],
                rewards=demos.rewards[steps].astype(np.float64),
                terminations=terminations,
                truncations=truncations,
                infos=infos,
            )
        )
    factory = demos.env_factory
    meta = {
        "format_version": FORMAT_VERSION,
        "env_id": demos.env_id,
        "env": factory.to_dict(),
        "metadata": demos.metadata,
        "has_action_masks": demos.action_masks is not None,
    }
    with _datasets_root(root), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="minari")  # unset optional fields
        dataset = minari.create_dataset_from_buffers(
            dataset_id,
            buffers,
            env=factory.env_id if not factory.wrappers and not factory.kwargs else None,
            observation_space=obs_space,
            action_space=act_space,
            algorithm_name=str(demos.metadata.get("policy", "genplay")),
            author="genplay",
            description=description or f"genplay demos of {demos.env_id} ({demos.n_episodes} episodes)",
            jpeg_encoding=False,
        )
        dataset.storage.update_metadata({GENPLAY_KEY: json.dumps(meta)})
        return Path(dataset.storage.data_path).parent


def _data_dir(source: str | Path, root: str | Path | None) -> Path:
    """The ``data`` directory of a dataset given as a directory or as an id under the Minari root."""
    path = Path(source)
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").is_file():
            return candidate
    from minari.storage.datasets_root_dir import get_dataset_path

    with _datasets_root(root):
        data = get_dataset_path(str(source)) / "data"
    if (data / "metadata.json").is_file():
        return data
    raise DemoError(f"{source}: no Minari dataset here (no metadata.json, nor a local dataset of that id)")


def import_minari(source: str | Path, *, root: str | Path | None = None, env_id: str | None = None) -> Demos:
    """A Minari dataset (an id or a directory) as validated demos (see module doc)."""
    from minari import MinariDataset
    from minari.dataset.minari_storage import MinariStorage
    from minari.serialization import deserialize_space

    data = _data_dir(source, root)
    name = str(data.parent)
    try:
        raw_meta = MinariStorage.read_raw_metadata(data)
    except (ValueError, json.JSONDecodeError) as exc:
        raise DemoError(f"{name}: unreadable Minari metadata ({exc})") from None
    for key in ("observation_space", "action_space"):
        if not isinstance(raw_meta.get(key), str):  # else Minari would build the env from the stored spec
            raise DemoError(f"{name}: Minari metadata has no {key!r}; genplay does not build envs from a dataset")
    ours = _genplay_meta(raw_meta, name)
    try:
        obs_space = deserialize_space(raw_meta["observation_space"])
        act_space = deserialize_space(raw_meta["action_space"])
        spec_id = json.loads(raw_meta["env_spec"])["id"] if raw_meta.get("env_spec") else None
    except Exception as exc:
        raise DemoError(f"{name}: malformed Minari metadata ({type(exc).__name__}: {exc})") from None
    factory_desc = ours.get("env") or spec_id or env_id
    if factory_desc is None:
        raise DemoError(f"{name}: the dataset names no env; give the env id")
    factory = EnvFactory.from_dict(factory_desc, source=name)
    episodes = list(MinariDataset(data).iterate_episodes())
    if not episodes:
        raise DemoError(f"{name}: the dataset holds no episode")
    obs_parts = [ep.observations for ep in episodes]
    if isinstance(obs_parts[0], dict):
        obs: Any = {k: np.concatenate([o[k] for o in obs_parts]) for k in obs_parts[0]}
    else:
        obs = np.concatenate(obs_parts)
    lengths = np.asarray([len(ep.rewards) for ep in episodes], dtype=np.int64)
    raw: dict[str, Any] = {
        "format_version": np.asarray(FORMAT_VERSION),
        "acts": np.concatenate([np.asarray(ep.actions) for ep in episodes]),
        "rewards": np.concatenate([ep.rewards for ep in episodes]).astype(np.float32),
        "episode_lengths": lengths,
        "terminated": np.asarray([bool(ep.terminations[-1]) for ep in episodes]),
    }
    if all(SCORE_INFO in (ep.infos or {}) for ep in episodes):
        raw["scores"] = np.concatenate([np.asarray(ep.infos[SCORE_INFO])[1:] for ep in episodes]).astype(np.float32)
    if isinstance(obs, dict):
        raw.update({f"obs.{k}": v for k, v in obs.items()})
    elif is_frame_stack(obs_space):
        frames = StackedFrames.from_stacks(obs, lengths + 1)
        raw.update(obs_frames=frames.frames, obs_frame_index=frames.index)
    else:
        raw["obs"] = obs
    meta = {
        **(ours.get("metadata") or {"policy": str(raw_meta.get("algorithm_name", "minari"))}),
        "minari": {"dataset_id": raw_meta.get("dataset_id"), "minari_version": raw_meta.get("minari_version")},
        "env_id": factory.env_id,
        "env": factory.to_dict(),
        "observation_space": describe_space(obs_space),
        "action_space": describe_space(act_space),
    }
    raw["metadata"] = np.asarray(json.dumps(meta))
    return demos_from_arrays(raw, source=name, env_id=env_id)


def _genplay_meta(raw_meta: dict, name: str) -> dict:
    text = raw_meta.get(GENPLAY_KEY)
    if text is None:
        return {}
    try:
        ours = json.loads(text)
        assert isinstance(ours, dict)
    except (TypeError, json.JSONDecodeError, AssertionError):
        raise DemoError(f"{name}: Minari metadata key {GENPLAY_KEY!r} is not a JSON object") from None
    return ours
