"""Minari export and import keep everything: action masks, Dict observations, uint8 frame stacks, scores and
provenance; the files Minari itself reads back (``minari.load_dataset``) and genplay reads back equal."""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import TransformObservation

from genplay.gail.data.demos import Demos
from genplay.gail.data.store import StackedFrames

minari = pytest.importorskip("minari")

DICT_ENV = "test/MinariDictCartPole-v0"
DICT_SPACE = gym.spaces.Dict(
    {"state": gym.spaces.Box(-np.inf, np.inf, (4,), np.float32), "side": gym.spaces.Box(0, 1, (2,), np.uint8)}
)


def _dict_cartpole() -> gym.Env:
    def obs(o):
        return {"state": o, "side": np.array([o[0] > 0, o[2] > 0], dtype=np.uint8)}

    return TransformObservation(gym.make("CartPole-v1"), obs, DICT_SPACE)


if DICT_ENV not in gym.registry:
    gym.register(DICT_ENV, entry_point=_dict_cartpole)


def assert_same_demos(back: Demos, demos: Demos) -> None:
    """Every field equal, observations of any layout compared as the stacks a learner reads."""
    for name in ("acts", "rewards", "episode_lengths", "terminated", "action_masks", "scores"):
        a, b = getattr(back, name), getattr(demos, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.dtype or name in ("rewards", "scores"), (name, a.dtype, b.dtype)
            np.testing.assert_array_equal(a, b, err_msg=name)
    rows = np.arange(demos.n_transitions + demos.n_episodes)
    if isinstance(demos.obs, dict):
        assert set(back.obs) == set(demos.obs)
        for k in demos.obs:
            assert back.obs[k].dtype == demos.obs[k].dtype
            np.testing.assert_array_equal(back.obs[k], demos.obs[k])
    else:
        assert isinstance(back.obs, StackedFrames) == isinstance(demos.obs, StackedFrames)
        np.testing.assert_array_equal(back.obs[rows], demos.obs[rows])
        assert back.obs[rows].dtype == demos.obs[rows].dtype
    assert back.env_id == demos.env_id and back.env_factory == demos.env_factory
    assert back.observation_space == demos.observation_space and back.action_space == demos.action_space
    meta = {k: v for k, v in back.metadata.items() if k != "minari"}
    assert meta == json.loads(json.dumps(demos.metadata))


def _round_trip(demos: Demos, dataset_id: str, root, monkeypatch) -> Demos:
    """Export, open with ``minari.load_dataset`` (Minari's own reader), import back."""
    from genplay.gail.data.minari_io import export_minari, import_minari

    export_minari(demos, dataset_id, root=root)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    ds = minari.load_dataset(dataset_id)
    assert ds.total_episodes == demos.n_episodes and ds.total_steps == demos.n_transitions
    ep = next(ds.iterate_episodes())
    assert len(ep.actions) == demos.episode_lengths[0]
    if demos.action_masks is not None:  # Minari hands the masks out with the step infos
        n = int(demos.episode_lengths[0])
        np.testing.assert_array_equal(ep.infos["action_mask"][:n], demos.action_masks[:n])
    monkeypatch.delenv("MINARI_DATASETS_PATH")
    return import_minari(dataset_id, root=root)


def test_board_game_demos_keep_masks_scores_and_provenance(tmp_path, monkeypatch):
    from genplay.gail.suites.boardgames import collect_bot_demos

    demos = collect_bot_demos("tic_tac_toe", "solver", 4, opponent="random", seed=0)
    assert demos.action_masks is not None and demos.env_factory.kwargs  # opponent settings ride in the factory
    rng = np.random.default_rng(0)
    demos = dataclasses.replace(
        demos,
        scores=rng.random(demos.n_transitions).astype(np.float32),
        metadata={**demos.metadata, "synth": {"generator": {"path": "runs/x", "policy_sha256": "ab" * 32}}},
    )
    back = _round_trip(demos, "genplay/tictactoe-solver-v0", tmp_path, monkeypatch)
    assert_same_demos(back, demos)
    assert back.metadata["policy"] == demos.metadata["policy"]


def test_atari_frame_stacks_round_trip(tmp_path, monkeypatch):
    """A few frames of Pong from the scripted expert: uint8 stacks, bit for bit, deduplicated again."""
    from genplay.envs import as_factory
    from genplay.gail.suites.atari import scripted_expert_demos

    demos = scripted_expert_demos(as_factory("genplay/Pong-v0"), 2, seed=0, max_steps=5)
    assert isinstance(demos.obs, StackedFrames) and demos.obs.dtype == np.uint8
    back = _round_trip(demos, "pong/expert-v0", tmp_path, monkeypatch)
    assert_same_demos(back, demos)
    assert len(back.obs.frames) == len(demos.obs.frames)  # each frame stored once again


def test_dict_observations_round_trip(tmp_path, monkeypatch):
    from genplay.gail.data.collect import collect_demos

    demos = collect_demos(DICT_ENV, "random", 3, seed=0, metadata={"policy": "random"})
    assert isinstance(demos.obs, dict)
    assert_same_demos(_round_trip(demos, "dictcartpole-v1", tmp_path, monkeypatch), demos)


class _MaskInfoOnly(gym.Wrapper):
    """Step infos with the same keys every step: Minari's DataCollector refuses keys that appear late (the
    board env adds ``outcome`` at the end of a game)."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {"action_mask": info["action_mask"]}

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        return obs, r, term, trunc, {"action_mask": info["action_mask"]}


@pytest.mark.slow
def test_masks_recorded_by_minari_itself_are_imported(tmp_path, monkeypatch):
    """A board game recorded by Minari's DataCollector: its ``action_mask`` infos become the demos' masks."""
    from genplay.gail.data.minari_io import import_minari
    from genplay.gail.suites.boardgames import board_factory

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    factory = board_factory("tic_tac_toe", "random", 0)
    env = minari.DataCollector(_MaskInfoOnly(factory.make()), record_infos=True)
    rng = np.random.default_rng(0)
    for seed in range(2):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, _, term, trunc, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            done = term or trunc
    env.create_dataset(dataset_id="ttt/random-v0", algorithm_name="random", author="test")
    demos = import_minari("ttt/random-v0", env_id=factory.env_id)
    assert demos.action_masks is not None and demos.action_masks.shape == (demos.n_transitions, 9)
    assert demos.action_masks[np.arange(demos.n_transitions), demos.acts].all()  # every move was legal


def test_relative_root_resolves_and_force_replaces(tmp_path, monkeypatch):
    from genplay.errors import DemoError
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.minari_io import export_minari, import_minari

    demos = collect_demos("CartPole-v1", "random", 2, seed=0, metadata={"policy": "random"})
    monkeypatch.chdir(tmp_path)
    path = export_minari(demos, "cp/random-v0", root="rel/root")
    assert path == tmp_path / "rel" / "root" / "cp" / "random-v0" and (path / "data" / "main_data.hdf5").is_file()
    assert [p.name for p in (tmp_path / "rel" / "root").iterdir() if p.name.startswith(".")] == []  # no staging left
    with pytest.raises(DemoError, match="exists.*--force"):
        export_minari(demos, "cp/random-v0", root="rel/root")
    other = collect_demos("CartPole-v1", "random", 3, seed=5, metadata={"policy": "random"})
    export_minari(other, "cp/random-v0", root="rel/root", force=True)
    assert import_minari("cp/random-v0", root="rel/root").n_episodes == 3
