"""Shared fixtures: single-threaded seeded torch, a private expert cache, cheap CartPole demos."""

from __future__ import annotations

import io
import os
import random
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos
from genplay.generative.core import state_io

os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # silences pygame's warning in subprocesses too


def heuristic_cartpole_policy(obs) -> np.ndarray:
    """Batched hand-written CartPole controller: push towards where the pole is falling.

    It balances CartPole-v1 for the full 500 steps from every start state we use, so demos
    need no trained expert.
    """
    obs = np.asarray(obs)
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


@pytest.fixture(autouse=True)
def _single_thread_and_seeded():
    torch.set_num_threads(1)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session", autouse=True)
def genplay_cache_dir(tmp_path_factory):
    """Point GENPLAY_CACHE_DIR at a session tmp dir, so no test reads or writes ~/.cache."""
    path = tmp_path_factory.mktemp("genplay_cache")
    old = os.environ.get("GENPLAY_CACHE_DIR")
    os.environ["GENPLAY_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GENPLAY_CACHE_DIR", None)
    else:
        os.environ["GENPLAY_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def heuristic_policy():
    return heuristic_cartpole_policy


@pytest.fixture(scope="session")
def cartpole_demos() -> Demos:
    """5 full-length (500-step, time-limit truncated) CartPole-v1 episodes of the heuristic."""
    return collect_demos("CartPole-v1", heuristic_cartpole_policy, 5, seed=0, metadata={"policy": "heuristic"})


@pytest.fixture(scope="session")
def cartpole_random_demos() -> Demos:
    """5 short CartPole-v1 episodes of a uniform-random policy (all end by termination)."""
    return collect_demos("CartPole-v1", "random", 5, seed=0, metadata={"policy": "random"})


@pytest.fixture(scope="session")
def cnn_zip(tmp_path_factory):
    """An untrained PPO CnnPolicy for Pong, saved the SB3 way (loaded back without unpickling)."""
    import torch
    from stable_baselines3 import PPO

    from genplay.envs import EnvFactory

    torch.set_num_threads(1)
    venv = EnvFactory("genplay/Pong-v0").make_vec(1, seed=0)
    path = tmp_path_factory.mktemp("cnn") / "pong.zip"
    PPO("CnnPolicy", venv, n_steps=16, batch_size=16, seed=0, device="cpu").save(path)
    venv.close()
    return path


def pytest_addoption(parser):
    parser.addoption("--readme", action="store_true", help="also run the README's commands (tests marked readme)")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``readme`` run only with ``--readme``: they take minutes, and .ci/run runs them apart."""
    if config.getoption("--readme"):
        return
    skip = pytest.mark.skip(reason="the README's commands run with --readme (as .ci/run does)")
    for item in items:
        if "readme" in item.keywords:
            item.add_marker(skip)


def nan_state_bytes(data: bytes) -> bytes:
    """The same state file with a NaN in its first tensor and a valid checksum: a crafted file."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    tensors = st_load(members[state_io._TENSORS])
    key = sorted(tensors)[0]
    tensors[key] = tensors[key].clone().fill_(float("inf"))
    members[state_io._TENSORS] = st_save(tensors)
    members[state_io._SHA] = state_io._digest(members[state_io._JSON], members[state_io._TENSORS]).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    return out.getvalue()
