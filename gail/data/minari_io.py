"""Demos to and from Minari datasets (``pip install 'genplay[synth]'``).

Export goes through Minari's own dataset-creation API (``minari.create_dataset_from_buffers``
with one ``EpisodeBuffer`` per episode), so what genplay writes is a Minari dataset by
construction; images are stored raw (``jpeg_encoding=False``: Minari's default JPEG is
lossy) and genplay's metadata (env factory, provenance) rides along as one JSON key,
per-transition realism scores as the step infos ``genplay_score`` and legal-action masks as
the step infos ``action_mask`` (the key genplay's board games put in their ``info``, so a
Minari ``DataCollector`` on a board game records the same field). Dict observations and
uint8 frame stacks go through as Minari stores them (dicts of arrays; full stacks, which
import deduplicates back into frames). A dataset is built in a staging directory under the
root and moved into place only when complete: a failed export leaves no half-written dataset.

Import reads a dataset by id (Minari's local root) or by directory, never building an
env from the file: the spaces must be in its metadata (Minari writes them), the env id
comes from genplay's key or the stored env spec and must be one genplay knows, and the
arrays pass the same validation as a demos file. Dataset ids are checked before any path
is built from them (``[namespace/]name-vN``, no ``..``, no spaces).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from genplay.envs import EnvFactory
from genplay.errors import DemoError
from genplay.gail.data.collect import is_frame_stack
from genplay.gail.data.demos import FORMAT_VERSION, Demos, demos_from_arrays
from genplay.gail.data.spaces import describe_space
from genplay.gail.data.store import StackedFrames
from genplay.gail.saving.sb3_zip import space_from_description

GENPLAY_KEY = "genplay"
SCORE_INFO = "genplay_score"
MASK_INFO = "action_mask"
_ID_PART = r"[A-Za-z0-9][A-Za-z0-9_-]*"
DATASET_ID = re.compile(rf"(?:{_ID_PART}/)*{_ID_PART}-v\d+")
"""``[namespace/...]name-vN``: every part starts with a letter or digit (so no ``..``), no spaces."""


def check_dataset_id(dataset_id: str, flag: str = "--minari-id") -> str:
    """``dataset_id`` if it is a Minari id genplay will build a path from, else one ``DemoError`` naming ``flag``."""
    ok = isinstance(dataset_id, str) and DATASET_ID.fullmatch(dataset_id) is not None
    if ok:
        try:  # and Minari's own rule (a namespace of two characters at least, ...)
            from minari.dataset.minari_dataset import parse_dataset_id

            parse_dataset_id(dataset_id)
        except ImportError:
            pass
        except ValueError:
            ok = False
    if not ok:
        raise DemoError(
            f"{flag}: {dataset_id!r} is not a Minari dataset id; expected [namespace/]name-vN (letters, digits, "
            "'_', '-', each part starting with a letter or digit, a namespace of 2+ characters, a version as -v0)"
        )
    return dataset_id


def _root(root: str | Path | None) -> Path:
    """The datasets root as an absolute path (a relative ``--minari-root`` is relative to the working directory)."""
    if root is None:
        from minari.storage.datasets_root_dir import get_dataset_path

        return get_dataset_path("").resolve()
    path = Path(root).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise DemoError(f"--minari-root: {root} is not a directory")
    return path


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


def check_export_target(dataset_id: str, root: str | Path | None, *, force: bool) -> tuple[Path, Path]:
    """(datasets root, dataset directory) for an export, or one ``DemoError``: a bad id, or an existing
    dataset without ``force`` (checked before any work, so a bad flag costs nothing)."""
    check_dataset_id(dataset_id)
    base = _root(root)
    target = base / dataset_id
    if target.exists() and not force:
        raise DemoError(f"--minari-id: dataset {dataset_id} exists at {target}; pass --force to replace it")
    return base, target


def export_minari(
    demos: Demos,
    dataset_id: str,
    *,
    root: str | Path | None = None,
    description: str | None = None,
    force: bool = False,
) -> Path:
    """Write ``demos`` as Minari dataset ``dataset_id`` (under ``root``, default Minari's); returns its directory.

    An existing dataset of that id is refused unless ``force`` (then replaced once the new one is complete).
    """
    base, target = check_export_target(dataset_id, root, force=force)
    buffers = _buffers(demos)
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".genplay-staging-", dir=base))
    try:
        try:
            _create(demos, dataset_id, buffers, staging, description)
        except (ValueError, TypeError) as exc:  # Minari's own refusals (spaces, ids, values)
            msg = " ".join(str(exc).split())[:200]
            raise DemoError(f"--minari-id: {dataset_id}: Minari refused the dataset ({msg})") from None
        if target.exists():
            shutil.rmtree(target)
        _adopt_namespaces(staging, base, dataset_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / dataset_id, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _buffers(demos: Demos) -> list:
    """One Minari ``EpisodeBuffer`` per episode: observations (T + 1), actions, rewards, flags, infos (T + 1)."""
    from minari.data_collector import EpisodeBuffer

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
        infos: dict[str, np.ndarray] = {}  # T + 1 entries each (reset, then each step)
        if demos.scores is not None:
            infos[SCORE_INFO] = np.concatenate([[np.nan], demos.scores[steps]]).astype(np.float32)
        if demos.action_masks is not None:  # the mask of the observation each info comes with; none after the last
            masks = demos.action_masks[steps].astype(bool)
            infos[MASK_INFO] = np.concatenate([masks, np.zeros_like(masks[:1])])
        buffers.append(
            EpisodeBuffer(
                id=i,
                observations=obs,
                actions=demos.acts[steps],
                rewards=demos.rewards[steps].astype(np.float64),
                terminations=terminations,
                truncations=truncations,
                infos=infos or None,
            )
        )
    return buffers


def _create(demos: Demos, dataset_id: str, buffers: list, root: Path, description: str | None) -> None:
    """Minari's own dataset creation under ``root``, genplay's provenance added as one metadata key."""
    import minari

    factory = demos.env_factory
    meta = {
        "format_version": FORMAT_VERSION,
        "env_id": demos.env_id,
        "env": factory.to_dict(),
        "metadata": demos.metadata,
        "has_action_masks": demos.action_masks is not None,
        "has_scores": demos.scores is not None,
    }
    with _datasets_root(root), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="minari")  # unset optional fields
        dataset = minari.create_dataset_from_buffers(
            dataset_id,
            buffers,
            env=_env_spec_id(factory),
            observation_space=space_from_description(demos.observation_space),
            action_space=space_from_description(demos.action_space),
            algorithm_name=str(demos.metadata.get("policy", "genplay")),
            author="genplay",
            description=description or f"genplay demos of {demos.env_id} ({demos.n_episodes} episodes)",
            jpeg_encoding=False,
        )
        dataset.storage.update_metadata({GENPLAY_KEY: json.dumps(meta)})


def _env_spec_id(factory) -> str | None:
    """The env id Minari may store as its env spec: a plain registered id whose spec serialises, else None
    (genplay's own metadata key carries the whole factory either way)."""
    if factory.wrappers or factory.kwargs:
        return None
    import gymnasium as gym

    try:
        gym.spec(factory.env_id).to_json()
    except Exception:  # callable entry points, unregistered ids: Minari would fail on them
        return None
    return factory.env_id


def _adopt_namespaces(staging: Path, base: Path, dataset_id: str) -> None:
    """Copy the namespace metadata Minari wrote while staging into the root, where it is missing."""
    parts = dataset_id.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        name = Path(*parts[:depth])
        for f in (staging / name).glob("*.json"):
            if not (base / name / f.name).exists():
                (base / name).mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, base / name / f.name)


def _data_dir(source: str | Path, root: str | Path | None) -> Path:
    """The ``data`` directory of a dataset given as a directory or as an id under the Minari root."""
    path = Path(source)
    if path.is_dir():
        for candidate in (path / "data", path):
            if (candidate / "metadata.json").is_file():
                return candidate
        raise DemoError(f"source: {source}: a directory without a Minari dataset (no data/metadata.json)")
    check_dataset_id(str(source), "source")
    data = _root(root) / str(source) / "data"
    if (data / "metadata.json").is_file():
        return data
    raise DemoError(f"source: {source}: no Minari dataset of that id under {_root(root)} (no data/metadata.json)")


def import_minari(source: str | Path, *, root: str | Path | None = None, env_id: str | None = None) -> Demos:
    """A Minari dataset (an id or a directory) as validated demos (see module doc)."""
    from minari import MinariDataset
    from minari.dataset.minari_storage import MinariStorage
    from minari.serialization import deserialize_space

    data = _data_dir(source, root)
    name = str(data.parent)
    try:
        raw_meta = MinariStorage.read_raw_metadata(data)
        assert isinstance(raw_meta, dict), "not a JSON object"
    except Exception as exc:  # bad JSON, wrong types, unreadable file: Minari raises many kinds
        msg = " ".join(str(exc).split())[:160]
        raise DemoError(f"{data / 'metadata.json'}: malformed Minari metadata ({type(exc).__name__}: {msg})") from None
    if raw_meta.get("data_format", "hdf5") == "hdf5" and not (data / "main_data.hdf5").is_file():
        raise DemoError(f"{data}: the Minari data file main_data.hdf5 is missing (metadata.json alone)")
    total = raw_meta.get("total_episodes")
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise DemoError(f"{data / 'metadata.json'}: field 'total_episodes' must be an integer >= 1, got {total!r}")
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
    try:
        episodes = list(MinariDataset(data).iterate_episodes())
    except Exception as exc:  # h5py / pyarrow errors on missing or damaged episodes
        msg = " ".join(str(exc).split())[:160]
        raise DemoError(
            f"{data}: the Minari data does not hold the {total} episodes metadata.json's total_episodes announces "
            f"({type(exc).__name__}: {msg})"
        ) from None
    if len(episodes) != total:
        raise DemoError(f"{data}: metadata.json says total_episodes {total}, the data holds {len(episodes)}")
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
    if all(MASK_INFO in (ep.infos or {}) for ep in episodes):  # each step's mask came with the observation before it
        raw["action_masks"] = np.concatenate([np.asarray(ep.infos[MASK_INFO])[:-1] for ep in episodes]).astype(bool)
    elif ours.get("has_action_masks"):
        raise DemoError(f"{name}: genplay's metadata says the episodes hold action masks, the step infos hold none")
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
