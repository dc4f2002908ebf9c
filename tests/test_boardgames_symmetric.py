"""The symmetry-averaged board policy, and what the next-state discriminator sees at a game's end."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

pytest.importorskip("pyspiel")

from genplay.gail.algos.board_training import masked_gail  # noqa: E402
from genplay.gail.algos.config import GAILConfig, PPOConfig, replace  # noqa: E402
from genplay.gail.suites.board_symmetry import symmetries  # noqa: E402
from genplay.gail.suites.boardgame_policy import SymmetricMaskablePolicy, symmetry_maps  # noqa: E402
from genplay.gail.suites.boardgames import collect_bot_demos  # noqa: E402

CONFIG = replace(
    GAILConfig(),
    n_envs=2,
    use_next_obs=True,
    bc_epochs=0,
    disc_batch_size=64,
    disc_updates=1,
    checkpoint_every=0,
    device="cpu",
    ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=1, net_arch=(32, 32), activation="relu"),
)
SYMMETRIC = dataclasses.replace(CONFIG, symmetric_policy=True)


def _logits(policy, obs: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return policy.get_distribution(torch.as_tensor(obs).float()).distribution.logits


@pytest.mark.parametrize("game, n_sym", [("tic_tac_toe", 8), ("connect_four", 2)])
def test_symmetric_policy_logits_and_values_follow_the_board(game, n_sym):
    demos = collect_bot_demos(game, "random", 4, seed=0)
    policy = masked_gail(demos, SYMMETRIC, 0).gen_algo.policy
    assert isinstance(policy, SymmetricMaskablePolicy)
    obs = demos.obs[:12]
    base = _logits(policy, obs)
    with torch.no_grad():
        value = policy.predict_values(torch.as_tensor(obs).float())
    pairs = symmetries(game)
    assert len(pairs) == n_sym
    for fn, amap in pairs[1:]:
        image = np.ascontiguousarray(fn(obs))
        # the image position's logit of the image move is the original logit of the move
        torch.testing.assert_close(_logits(policy, image)[:, amap], base, atol=1e-5, rtol=0)
        with torch.no_grad():
            torch.testing.assert_close(policy.predict_values(torch.as_tensor(image).float()), value)
    plain = masked_gail(demos, CONFIG, 0).gen_algo.policy  # the MLP policy is not invariant
    fn, amap = pairs[1]
    assert (_logits(plain, np.ascontiguousarray(fn(obs)))[:, amap] - _logits(plain, obs)).abs().max() > 1e-3


def test_symmetry_maps_move_cells_as_the_plane_functions_do():
    gather, amap = symmetry_maps("tic_tac_toe", (3, 3))
    board = np.arange(9).reshape(3, 3)
    for g, (fn, _) in enumerate(symmetries("tic_tac_toe")):
        np.testing.assert_array_equal(board.ravel()[gather[g]], np.ascontiguousarray(fn(board)).ravel())
        assert sorted(amap[g]) == list(range(9))


def test_symmetric_policy_saves_and_loads_by_name(tmp_path):
    from genplay.gail.saving.run_files import export_policy, load_policy_model

    demos = collect_bot_demos("tic_tac_toe", "solver", 6, seed=0)
    trainer = masked_gail(demos, SYMMETRIC, 0)
    export_policy(trainer, tmp_path)
    model, _, _ = load_policy_model(tmp_path, env_id="genplay/TicTacToe-v0")
    assert isinstance(model.policy, SymmetricMaskablePolicy) and model.policy.game == "tic_tac_toe"
    torch.testing.assert_close(_logits(model.policy, demos.obs), _logits(trainer.gen_algo.policy, demos.obs))


def test_symmetric_policy_refuses_a_board_it_has_no_symmetries_for():
    from genplay.errors import EnvError
    from genplay.gail.algos.board_training import masked_generator

    venv = collect_bot_demos("connect_four", "random", 2, seed=0).env_factory.make_vec(1)
    with pytest.raises(EnvError, match="symmetries"):
        masked_generator(venv, SYMMETRIC, game="tic_tac_toe")


def test_next_state_discriminator_sees_the_final_board_of_each_game():
    """At a game's last step the discriminator's next observation is the finished board (the
    opponent's winning line included), not the empty board the env was reset to."""
    demos = collect_bot_demos("tic_tac_toe", "random", 4, seed=0)
    trainer = masked_gail(demos, CONFIG, 0)
    stores = []
    train = trainer.train_discriminator
    trainer.train_discriminator = lambda store, n: stores.append(store) or train(store, n)
    trainer.learn(CONFIG.run.n_envs * CONFIG.ppo.n_steps)
    (store,) = stores
    ends = np.flatnonzero(store.next_idx >= len(store) + CONFIG.run.n_envs)  # rows of terminal observations
    assert len(ends) >= 5
    for i in ends:
        board = store.take_obs(store.next_idx[[i]])[0]  # planes own / opponent / empty
        before = store.take_obs(store.obs_idx[[i]])[0]
        own, opp = board[0].ravel().astype(bool), board[1].ravel().astype(bool)
        assert own.sum() == before[0].sum() + 1 and opp.sum() >= before[1].sum()  # the move and any reply
        lines = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]
        over = any(own[list(ln)].all() or opp[list(ln)].all() for ln in lines) or (own | opp).all()
        assert over, board
