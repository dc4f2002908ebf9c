"""The fresh-machine expert path: train an expert from an empty cache the way a user does, then use it.

A cache warmed by earlier sessions once hid an expert that could not be loaded back (its
linear schedules were stored past the end of training, as a negative learning rate). These
tests train through `genplay expert train` itself, with the recipe shrunk but its schedules
and its overshoot (a budget that is not a multiple of the rollout) kept.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from genplay.cli import main
from genplay.gail.data import experts


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENPLAY_CACHE_DIR", str(cache))
    return cache


def _tiny(env_id: str, monkeypatch) -> None:
    """The env's recipe with a 1,000-step budget: 8 envs x 32 steps overshoot it to 1,024, as a real run does."""
    recipe = experts.recipe_for(env_id)
    if env_id != "CartPole-v1":  # CartPole keeps its 8 x 32 rollout (and schedules); the others load back the same way
        recipe = dataclasses.replace(recipe, ppo={**recipe.ppo, "n_steps": 64, "batch_size": 64})
    recipe = dataclasses.replace(recipe, chunk=1_000, max_steps=1_000, threshold=None)
    monkeypatch.setitem(experts.RECIPES, env_id, recipe)


@pytest.mark.parametrize(
    "env_id",
    [
        "CartPole-v1",
        pytest.param("Acrobot-v1", marks=pytest.mark.slow),
        pytest.param("Pendulum-v1", marks=pytest.mark.slow),
    ],
)
def test_expert_trained_from_empty_cache_loads_back_on_the_command_line(
    env_id, empty_cache, tmp_path, monkeypatch, capsys
):
    _tiny(env_id, monkeypatch)
    assert main(["expert", "train", "--env", env_id]) == 0
    path = experts.expert_path(env_id)
    assert path.is_file() and json.loads(path.with_suffix(".json").read_text())["steps"] >= 1_000
    out = tmp_path / "demos.npz"
    # demos collect and evaluate load the cached expert (no scripted expert is used for these ids)
    monkeypatch.setattr("genplay.envs.scripted.SCRIPTED_EXPERTS", {})
    assert main(["demos", "collect", "--env", env_id, "--n-episodes", "2", "--out", str(out)]) == 0
    assert out.is_file()
    assert main(["evaluate", "--env", env_id, "--policy", "expert", "--n-episodes", "2", "--json"]) == 0
    assert "error" not in capsys.readouterr().err


def test_overshooting_run_stores_schedules_that_load(empty_cache, monkeypatch):
    _tiny("CartPole-v1", monkeypatch)
    model = experts.train_expert("CartPole-v1", verbose=False)
    assert model.num_timesteps > 1_000  # overshot: progress went below 0
    assert 0.0 <= model.lr_schedule(1.0) <= 1e-3 and np.isfinite(model.clip_range(0.5))
    meta = json.loads(__import__("zipfile").ZipFile(experts.expert_path("CartPole-v1")).read("genplay.json"))
    assert meta["hyper"]["learning_rate"]["schedule"] == "linear"  # a schedule, not a frozen (negative) value


def test_unloadable_cached_expert_says_expert_and_how_to_repair(empty_cache, capsys):
    path = experts.expert_path("CartPole-v1")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip")
    assert main(["demos", "collect", "--env", "CartPole-v1", "--n-episodes", "1", "--out", "x.npz"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "expert" in err and "--force" in err
