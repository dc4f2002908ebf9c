"""The realism scorer (``gail/evaluation/realism.py``): it ranks expert above random on held-out episodes, reads every
observation space GAIL takes, perturbs actions legally, and is stored without pickle."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import TransformObservation

from genplay.errors import CheckpointError
from genplay.gail.data.collect import collect_demos
from genplay.gail.evaluation.realism import (
    RealismConfig,
    load_scorer,
    noisy_policy,
    perturbed_actions,
    save_scorer,
    train_scorer,
    with_symmetries,
)
from genplay.gail.evaluation.scores import auc

DICT_ENV = "test/RealismDictCartPole-v0"
DICT_SPACE = gym.spaces.Dict(
    {"state": gym.spaces.Box(-np.inf, np.inf, (4,), np.float32), "side": gym.spaces.MultiBinary(2)}
)


def _dict_cartpole() -> gym.Env:
    def obs(o):
        return {"state": o, "side": np.array([o[0] > 0, o[2] > 0], dtype=np.int8)}

    return TransformObservation(gym.make("CartPole-v1"), obs, DICT_SPACE)


if DICT_ENV not in gym.registry:
    gym.register(DICT_ENV, entry_point=_dict_cartpole)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.mark.slow
def test_scorer_ranks_expert_above_random_and_noisy_expert_on_held_out_seeds(heuristic_policy):
    """Trained on 10 heuristic episodes vs a near-expert 'generator' (the heuristic at 10% noise) and random
    play; measured on other seeds, and against a 30%-noisy expert it never saw."""
    space = gym.make("CartPole-v1").action_space
    expert = collect_demos("CartPole-v1", heuristic_policy, 10, seed=0)
    negatives = {
        "generator": collect_demos("CartPole-v1", noisy_policy(heuristic_policy, space, 0.1, 1), 10, seed=100),
        "random": collect_demos("CartPole-v1", "random", 20, seed=200),
    }
    scorer = train_scorer(expert, negatives, config=RealismConfig(steps=400))
    held_out = {
        "expert": collect_demos("CartPole-v1", heuristic_policy, 10, seed=60_000),
        "random": collect_demos("CartPole-v1", "random", 10, seed=70_000),
        "noisy": collect_demos("CartPole-v1", noisy_policy(heuristic_policy, space, 0.3, 5), 10, seed=75_000),
    }
    ep = {k: scorer.episode_scores(d) for k, d in held_out.items()}
    assert auc(ep["expert"], ep["random"]) >= 0.9, ep
    assert auc(ep["expert"], ep["noisy"]) > 0.6, ep
    assert scorer.validation["auc_expert_vs_random"] >= 0.9 and scorer.validation["best_step"] >= 1
    assert scorer.provenance["episodes"] == {"expert": 10, "generator": 10, "random": 20}


def _board_demos():
    from genplay.gail.suites.boardgames import board_factory, collect_bot_demos

    expert = collect_bot_demos("tic_tac_toe", "solver", 4, opponent="random", seed=0)
    env = board_factory("tic_tac_toe", "random", None)
    return expert, collect_demos(env, "random", 3, seed=1), collect_demos(env, "random", 3, seed=2)


def _pixel_demos():
    from genplay.envs import as_factory
    from genplay.gail.suites.atari import scripted_expert_demos

    factory = as_factory("genplay/Pong-v0")
    expert = scripted_expert_demos(factory, 2, seed=0, max_steps=6)
    return (
        expert,
        scripted_expert_demos(factory, 1, seed=1, max_steps=5),
        scripted_expert_demos(factory, 1, seed=2, max_steps=5),
    )


def _dict_demos():
    return tuple(collect_demos(DICT_ENV, "random", n, seed=s) for n, s in ((3, 0), (2, 1), (2, 2)))


def _pendulum_demos():
    return tuple(collect_demos("Pendulum-v1", "random", 2, seed=s) for s in range(3))


@pytest.mark.parametrize("make", [_board_demos, _pixel_demos, _dict_demos, _pendulum_demos],
                         ids=["board-masks", "uint8-frames", "dict", "continuous"])  # fmt: skip
def test_every_observation_space_trains_scores_and_round_trips(make, tmp_path):
    expert, generator, rand = make()
    scorer = train_scorer(
        expert, {"generator": generator, "random": rand}, config=RealismConfig(steps=3, batch_size=16, holdout=0.34)
    )
    s = scorer.transition_scores(expert)
    assert s.shape == (expert.n_transitions,) and ((s >= 0) & (s <= 1)).all()
    save_scorer(tmp_path / "realism.pt", scorer)
    back = load_scorer(tmp_path / "realism.pt", observation_space=scorer.disc.observation_space)
    np.testing.assert_array_equal(back.transition_scores(expert), s)
    assert back.config == scorer.config and back.validation == scorer.validation


def test_board_channels_put_a_board_cnn_on_board_planes_only(tmp_path):
    """``board_channels`` > 0 reads board planes with a BoardCNN and round-trips; 0 (the default, and GAIL's
    discriminator's) flattens them; frames keep their NatureCNN whatever the option."""
    from stable_baselines3.common.torch_layers import FlattenExtractor, NatureCNN

    from genplay.gail.rewards.discriminator import TransitionDiscriminator
    from genplay.gail.rewards.features import BoardCNN

    expert, generator, rand = _board_demos()
    negatives = {"generator": generator, "random": rand}
    small = RealismConfig(steps=3, batch_size=16, holdout=0.34, board_channels=8)
    scorer = train_scorer(expert, negatives, config=small)
    assert isinstance(scorer.disc.encoder.extractor, BoardCNN)
    assert scorer.disc.encoder.extractor.net[0].out_channels == 8
    save_scorer(tmp_path / "cnn.pt", scorer)
    back = load_scorer(tmp_path / "cnn.pt")
    assert isinstance(back.disc.encoder.extractor, BoardCNN)
    np.testing.assert_array_equal(back.transition_scores(expert), scorer.transition_scores(expert))
    flat = train_scorer(expert, negatives, config=dataclasses.replace(small, board_channels=0))
    assert isinstance(flat.disc.encoder.extractor, FlattenExtractor) and RealismConfig().board_channels == 0
    space, acts = scorer.disc.observation_space, scorer.disc.action_space
    assert isinstance(TransitionDiscriminator(space, acts).encoder.extractor, FlattenExtractor)
    pong, _, _ = _pixel_demos()
    other = train_scorer(pong, {"generator": pong, "random": pong}, config=dataclasses.replace(small, steps=1))
    assert isinstance(other.disc.encoder.extractor, NatureCNN)


def test_board_games_train_on_symmetry_images_of_the_training_episodes():
    """Tic-tac-toe's 8 symmetries multiply the training rows (held-out episodes stay as played); other envs
    are unchanged."""
    expert, generator, rand = _board_demos()
    assert with_symmetries(expert).n_transitions == 8 * expert.n_transitions
    pendulum = _pendulum_demos()[0]
    assert with_symmetries(pendulum) is pendulum
    config = RealismConfig(steps=2, batch_size=16, holdout=0.0)
    rows = train_scorer(expert, {"generator": generator, "random": rand}, config=config).provenance["training_rows"]
    assert rows["expert"] == 8 * expert.n_transitions and rows["random"] == 8 * rand.n_transitions
    off = dataclasses.replace(config, symmetries=False)
    rows = train_scorer(expert, {"generator": generator, "random": rand}, config=off).provenance["training_rows"]
    assert rows["expert"] == expert.n_transitions


def test_perturbed_actions_are_other_legal_actions():
    expert, _, _ = _board_demos()
    space = gym.spaces.Discrete(9)
    acts, keep = perturbed_actions(expert, space, np.random.default_rng(0))
    assert (acts[keep] != expert.acts[keep]).all()
    assert expert.action_masks[np.arange(len(acts)), acts][keep].all()  # legal in the expert's position
    assert (keep == (expert.action_masks.sum(1) > 1)).all()  # only a forced move has no alternative
    cont = collect_demos("Pendulum-v1", "random", 1, seed=0)
    acts, keep = perturbed_actions(cont, gym.make("Pendulum-v1").action_space, np.random.default_rng(0))
    assert keep.all() and acts.shape == cont.acts.shape and not np.allclose(acts, cont.acts)


def test_scorer_file_refuses_damage_and_other_spaces(tmp_path):
    expert, generator, rand = _dict_demos()
    scorer = train_scorer(expert, {"generator": generator, "random": rand}, config=RealismConfig(steps=2))
    path = tmp_path / "realism.pt"
    save_scorer(path, scorer)
    with pytest.raises(CheckpointError, match="action_space"):
        load_scorer(path, action_space=gym.spaces.Discrete(3))
    data = bytearray(path.read_bytes())
    i = data.index(b"tensors.safetensors") + 200
    data[i : i + 8] = bytes(b ^ 0xFF for b in data[i : i + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_scorer(path)


def test_config_refuses_bad_values():
    from genplay.errors import GenplayError

    for bad in (
        dict(steps=0),
        dict(lr=float("nan")),
        dict(holdout=1.0),
        dict(generator_share=0.6, perturbed_share=0.5),
        dict(board_channels=-1),
    ):
        with pytest.raises(GenplayError):
            RealismConfig(**bad)
    assert dataclasses.asdict(RealismConfig())["use_next_obs"] is False


def test_scorer_recipe_is_the_measured_one_per_family():
    from genplay.gail.evaluation.realism import RealismConfig, scorer_recipe

    board = scorer_recipe("genplay/ConnectFour-v0")
    assert (board.expert_episodes, board.random_episodes) == (10_000, 5_000)
    assert board.config.hidden == (256, 256) and board.config.steps == 4_000
    assert scorer_recipe("CartPole-v1").config == RealismConfig() and scorer_recipe("Pendulum-v1").expert_episodes == 20
